'use strict';
// Renders a page of a mini-program as WeChat's webview would, from its own files, in Node:
// - the WXML is compiled by WeChat's template compiler (wcc, shipped in npm miniprogram-compiler),
//   the one DevTools runs; a template it refuses (an unclosed tag, a bad {{ }} or wx:for) throws;
// - the compiled template is rendered by WeChat's component framework (miniprogram-exparser, driven
//   by j-component through npm miniprogram-simulate) into a jsdom document;
// - app.wxss and the page's WXSS (and its components') are compiled by WeChat's style compiler
//   (wcsc, same package) and applied with rpx worked out for a 375 px wide screen (1rpx = 0.5px,
//   rounded down as WeChat's transformRPX does), `page` meaning the body, `button` wx-button...
// The page's data is its own `data` (read by loading its .js with a Page() that only records the
// definition) with the given state on top, as setData would leave it. What WeChat would show as
// nothing, without a word, is an error here: a data path the state does not have ({{statusTxt}},
// {{user.nikename}}, wx:for="{{itmes}}"), a tag that is neither built in nor in usingComponents,
// a wx:for that is not one {{ }} (wx:for="items" iterates the string's characters). The template
// runtime's own warnings (a wx:for without wx:key) are kept in .warnings. Lifetimes and handlers
// never run: this shows a state, it does not drive the page (tests/simulator/ does that); a
// component's own data can be set with options.components.
// The compilers are native programs in the npm package: x86-64 Linux, macOS and Windows.
//
//   const { renderPage } = require('./render-wxml.js');
//   const page = renderPage(appDir, 'pages/index/index', { status: 'loggedIn', statusText: '已登录' });
//   page.text('.status')      // '已登录' (visible text; `hidden` and wx:if'd-out nodes have none)
//   page.all('wx-button')     // elements, e.g. .map((b) => b.getAttribute('type'))
//   page.html                 // the page's markup: <wx-view class="card">…
//   page.css                  // the compiled WXSS, in px
//   page.toDocument()         // a standalone HTML page (WXSS and WeChat's base styles inlined)
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');
const { spawnSync } = require('child_process');
const { JSDOM } = require('jsdom');

const SCREEN_WIDTH = 375;

// miniprogram-simulate and exparser expect a browser: one jsdom window per process, made before
// they load. Its screen is a 375 px wide iPhone, which WeChat's style code reads for rpx.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', {
  pretendToBeVisual: true,
  runScripts: 'outside-only',
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50',
});
const { window } = dom;
Object.defineProperty(window.screen, 'width', { value: SCREEN_WIDTH });
Object.defineProperty(window.screen, 'height', { value: 667 });
Object.defineProperty(window, 'devicePixelRatio', { value: 2 });
// WeChat's transformRPX (as wcsc emits it), used for the WXSS and for inline style="" alike.
function transformRpx(rpx) {
  if (rpx === 0) return 0;
  const px = Math.floor((rpx / 750) * SCREEN_WIDTH + 1e-4);
  return px === 0 ? 0.5 : px;
}
window.__transformRpx__ = transformRpx;

// The globals the browser-side libraries use (window, document, and what miniprogram-simulate and
// j-component define when they load: wx, Component, Behavior...) exist only while they run, and
// any other name they leave on the global object is removed: a test runner that runs every file in
// one process (bun test) must not find a window or a wx in the next file. (WXS's non-enumerable
// nv_* additions to the built-in prototypes stay, as in WeChat.)
const BROWSER_GLOBALS = { window, document: window.document };
function inBrowser(fn) {
  const keysBefore = new Set(Object.getOwnPropertyNames(globalThis));
  const saved = new Map();
  for (const [key, value] of Object.entries(BROWSER_GLOBALS)) {
    saved.set(key, Reflect.getOwnPropertyDescriptor(globalThis, key));
    globalThis[key] = value;
  }
  try {
    return fn();
  } finally {
    for (const key of Object.getOwnPropertyNames(globalThis)) if (!keysBefore.has(key)) Reflect.deleteProperty(globalThis, key);
    for (const [key, descriptor] of saved) {
      if (descriptor) Reflect.defineProperty(globalThis, key, descriptor);
      else Reflect.deleteProperty(globalThis, key);
    }
  }
}

const { simulate, jComponent } = inBrowser(() => {
  const keysBefore = new Set(Object.getOwnPropertyNames(globalThis));
  const loaded = { simulate: require('miniprogram-simulate'), jComponent: require('j-component') };
  for (const key of Object.getOwnPropertyNames(globalThis)) if (!keysBefore.has(key)) BROWSER_GLOBALS[key] = globalThis[key];
  return loaded;
});
const jComponentUtils = require('j-component/src/tool/utils');

const COMPILER_BIN = path.join(path.dirname(require.resolve('miniprogram-compiler/package.json')), 'bin', { darwin: 'mac', win32: 'windows' }[process.platform] || 'linux');

// The compilers ship as files npm unpacks without the executable bit.
function compilerPath(name) {
  const file = path.join(COMPILER_BIN, process.platform === 'win32' ? `${name}.exe` : name);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    fs.chmodSync(file, 0o755);
  }
  return file;
}

function runCompiler(name, args, cwd) {
  const result = spawnSync(compilerPath(name), args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const error = new Error(`${name}: ${(result.stderr || result.stdout || `exit ${result.status}`).trim()}`);
    error.code = name === 'wcc' ? 'WXML_COMPILE' : 'WXSS_COMPILE';
    throw error;
  }
  return result.stdout;
}

// --- built-in components -------------------------------------------------------------------------
// miniprogram-simulate registers each built-in as a bare <slot/>, so its attributes (type, disabled,
// loading, hidden...) vanish. WeChat's own built-ins reflect them onto the element, which its base
// styles select on (wx-button[type=primary]); these do the same for the properties listed here.
const COMMON = { hidden: Boolean };
const BUILTINS = {
  view: {},
  text: { selectable: Boolean, userSelect: Boolean, space: String, decode: Boolean },
  'rich-text': { nodes: null },
  icon: { type: String, size: null, color: String },
  progress: { percent: Number, showInfo: Boolean, active: Boolean },
  button: {
    size: { type: String, value: 'default' },
    type: { type: String, value: 'default' },
    plain: Boolean,
    disabled: Boolean,
    loading: Boolean,
    formType: String,
    openType: String,
    hoverClass: String,
  },
  navigator: { url: String, openType: String, hoverClass: String, target: String },
  image: { src: String, mode: { type: String, value: 'scaleToFill' }, lazyLoad: Boolean },
  input: { value: String, type: { type: String, value: 'text' }, placeholder: String, disabled: Boolean, maxlength: null, password: Boolean },
  textarea: { value: String, placeholder: String, disabled: Boolean },
  switch: { checked: Boolean, disabled: Boolean, type: String, color: String },
  checkbox: { value: String, checked: Boolean, disabled: Boolean, color: String },
  radio: { value: String, checked: Boolean, disabled: Boolean, color: String },
  label: { for: String },
  form: {},
  'scroll-view': { scrollX: Boolean, scrollY: Boolean },
  swiper: {},
  'swiper-item': {},
  'cover-view': {},
  'cover-image': { src: String },
  'page-meta': {},
  'navigation-bar': { title: String },
};
// Content WeChat draws itself: an <input>'s or <textarea>'s value or placeholder here, an <image>'s
// picture as its background (reflectAttributes). The rest show their children.
const TEMPLATES = {
  input: '<span class="wx-input-value" wx:if="{{value}}">{{value}}</span><span class="wx-input-placeholder" wx:else>{{placeholder}}</span>',
  textarea: '<span class="wx-textarea-value" wx:if="{{value}}">{{value}}</span><span class="wx-textarea-placeholder" wx:else>{{placeholder}}</span>',
};

let serial = 0;
const camelToDash = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

// The app being rendered, for <image src="/images/a.png">.
let currentAppDir = '';
const IMAGE_SIZE = { scaleToFill: '100% 100%', aspectFit: 'contain', aspectFill: 'cover', widthFix: '100% auto', heightFix: 'auto 100%' };

function reflectAttributes() {
  const node = this.$$;
  if (!node) return;
  for (const [name, value] of Object.entries(this.data)) {
    const attr = camelToDash(name);
    if (value === false || value === null || value === undefined || value === '' || typeof value === 'object') node.removeAttribute(attr);
    else node.setAttribute(attr, value === true ? '' : String(value));
  }
  if (node.tagName === 'WX-IMAGE') {
    const { src, mode } = this.data;
    const url = src && src.startsWith('/') ? `file://${path.join(currentAppDir, src)}` : src;
    node.style.backgroundImage = url ? `url(${JSON.stringify(url)})` : '';
    node.style.backgroundSize = IMAGE_SIZE[mode] || '100% 100%';
  }
}

inBrowser(() => {
for (const [name, props] of Object.entries(BUILTINS)) {
  const properties = {};
  for (const [prop, spec] of Object.entries({ ...COMMON, ...props })) {
    properties[prop] = spec && typeof spec === 'object' ? spec : { type: spec, value: spec === Boolean ? false : spec === String ? '' : null };
  }
  jComponent.register({
    id: name,
    tagName: `wx-${name}`,
    template: TEMPLATES[name] || '<slot/>',
    properties,
    options: { classPrefix: '' },
    lifetimes: { attached: reflectAttributes },
    observers: { '**': reflectAttributes },
  });
}
});

// WeChat's base styles for what these pages use (the webview's own stylesheet, abridged: style v2
// buttons, block views, hidden). Pages' WXSS comes after and wins where it is as specific.
const BASE_CSS = `
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: -apple-system-font, "Helvetica Neue", Helvetica, "PingFang SC", "WenQuanYi Micro Hei", sans-serif; font-size: 16px; line-height: 1.4; overflow-x: hidden; }
wx-view, wx-navigator, wx-form, wx-scroll-view, wx-swiper, wx-swiper-item, wx-cover-view, wx-rich-text, wx-input, wx-textarea, wx-progress { display: block; }
wx-text, wx-label, wx-icon { display: inline; }
wx-text { white-space: pre-wrap; }
[hidden] { display: none !important; }
wx-image { display: inline-block; width: 320px; height: 240px; overflow: hidden; background-repeat: no-repeat; background-position: center; }
wx-input { height: 1.4rem; min-height: 1.4rem; line-height: 1.4rem; overflow: hidden; white-space: nowrap; }
wx-input .wx-input-placeholder, wx-textarea .wx-textarea-placeholder { color: #808080; }
wx-textarea { width: 300px; height: 150px; }
wx-button { position: relative; display: block; margin-left: auto; margin-right: auto; padding: 8px 24px; box-sizing: border-box; font-size: 17px; font-weight: 700; line-height: 1.41176471; text-align: center; text-decoration: none; border-radius: 4px; overflow: hidden; color: #06ae56; background-color: #f2f2f2; }
wx-button:not([size=mini]) { width: 184px; margin-left: auto; margin-right: auto; }
wx-button[type=primary] { color: #fff; background-color: #07c160; }
wx-button[type=warn] { color: #fa5151; background-color: #f2f2f2; }
wx-button[plain] { background-color: transparent; border: 1px solid currentColor; }
wx-button[disabled] { color: rgba(0, 0, 0, .18); background-color: rgba(0, 0, 0, .05); }
wx-button[size=mini] { display: inline-block; padding: 0 .75em; font-size: 13px; line-height: 2.3; }
wx-button[loading]::before { content: ""; display: inline-block; width: 1em; height: 1em; margin: -.2em .34em 0 0; vertical-align: middle; border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; box-sizing: border-box; }
wx-button[loading][type=primary] { color: rgba(255, 255, 255, .6); background-color: #06ad56; }
`;

// --- the app's files ---------------------------------------------------------------------------
// A page's (or component's) .js, run with Page/Component recording their definition and nothing
// else callable: the data it starts with, the properties a component takes.
function readDefinition(appDir, file) {
  let definition = {};
  if (!fs.existsSync(file)) return definition;
  const record = (def) => {
    definition = def || {};
  };
  const forbidden = (what) => new Proxy({}, {
    get: (_, key) => () => {
      throw new Error(`${path.relative(appDir, file)}: calls ${what}.${String(key)} while loading`);
    },
  });
  const source = fs.readFileSync(file, 'utf8');
  const run = vm.compileFunction(source, ['require', 'module', 'exports', '__filename', '__dirname', 'Page', 'Component', 'Behavior', 'getApp', 'getCurrentPages', 'wx'], { filename: file });
  const module = { exports: {} };
  run(Module.createRequire(file), module, module.exports, file, path.dirname(file), record, record, (b) => b, () => forbidden('getApp()'), () => [], forbidden('wx'));
  return definition;
}

const readJson = (file) => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});

// The page and every component it uses, depth first: { key: 'pages/index/index', json, using }.
function collect(appDir, key, tagName, out = new Map()) {
  if (out.has(key)) return out;
  const json = readJson(path.join(appDir, `${key}.json`));
  const using = {};
  const entry = { key, tagName, json, using };
  out.set(key, entry);
  for (const [name, ref] of Object.entries(json.usingComponents || {})) {
    if (/^plugin:\/\//.test(ref)) throw new Error(`${key}.json: plugin component ${name} (${ref}) cannot be rendered here`);
    const target = ref.startsWith('/') ? ref.slice(1) : path.posix.join(path.posix.dirname(key), ref);
    const componentKey = fs.existsSync(path.join(appDir, `${target}.json`)) ? target : path.posix.join(target, 'index');
    if (!fs.existsSync(path.join(appDir, `${componentKey}.wxml`))) throw new Error(`${key}.json: component ${name} (${ref}) has no .wxml`);
    using[name] = componentKey;
    collect(appDir, componentKey, name, out);
  }
  return out;
}

// The app's files ending in `ext`, outside node_modules/ (the compilers resolve <wxs src> and
// @import among the files they are given).
function findFiles(appDir, ext, dir = '', out = []) {
  for (const entry of fs.readdirSync(path.join(appDir, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory() && !/^(node_modules|\.)/.test(entry.name)) findFiles(appDir, ext, rel, out);
    else if (entry.isFile() && entry.name.endsWith(ext)) out.push(rel);
  }
  return out;
}

const WXS_RUNTIME = { ready: undefined };
let warnings = [];
const TEMPLATE_CONSOLE = {
  log: (...args) => warnings.push(args.join(' ')),
  info: (...args) => warnings.push(args.join(' ')),
  warn: (...args) => warnings.push(args.join(' ')),
  error: (...args) => warnings.push(args.join(' ')),
};

// What wcc lets through and WeChat gets wrong without a word: wx:for="items" iterates the
// characters of the string "items". A wx:for must be one {{ }}.
function lintWxml(appDir, key) {
  const source = fs.readFileSync(path.join(appDir, `${key}.wxml`), 'utf8');
  for (const match of source.matchAll(/\swx:for\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const value = match[1] !== undefined ? match[1] : match[2];
    if (!/^\s*\{\{[^]*\}\}\s*$/.test(value) || /\}\}[^]*\{\{/.test(value)) {
      const line = source.slice(0, match.index).split('\n').length;
      const error = new Error(`${key}.wxml:${line}: wx:for="${value}" is not one {{expression}} (WeChat would iterate the string's characters)`);
      error.code = 'WXML_COMPILE';
      throw error;
    }
  }
}

// wcc over the page and its components, as DevTools calls it: $gwx(path) gives each template.
function compileWxml(appDir, entries) {
  const withComponents = entries.filter((e) => Object.keys(e.using).length);
  const componentArgs = [withComponents.length];
  for (const e of withComponents) componentArgs.push(`${e.key}.wxml`, Object.keys(e.using).length, ...Object.keys(e.using));
  const wxsFiles = findFiles(appDir, '.wxs');
  const args = ['-d', '-cc', componentArgs.join(' '), ...entries.map((e) => `${e.key}.wxml`), ...wxsFiles, '-gn', '$gwx'];
  const source = runCompiler('wcc', args, appDir);
  // The compiled code keeps its ops in __WXML_GLOBAL__, keyed by names every compile reuses: one
  // of its own for each compile, sharing only the flag that WXS's additions to the built-in
  // prototypes (nv_length...) are made, which can be made once.
  // eslint-disable-next-line no-new-func
  // Its console.warn (WXMLRT_...: a wx:for without wx:key, say) goes to the render's warnings.
  // eslint-disable-next-line no-new-func
  // The names it would otherwise leave on the global object are declared here too.
  return new Function('wxs', 'console', 'window', `var $gwx, $gwn, $gwl, wh, gra, grb, __WXML_GLOBAL__ = { get wxs_nf_init() { return wxs.ready; }, set wxs_nf_init(v) { wxs.ready = v; } };\n${source};\nreturn $gwx;`)(WXS_RUNTIME, TEMPLATE_CONSOLE, window);
}

// wcsc over one WXSS file; its code puts the CSS in a <style>, which is read back. `prefix` is a
// component's class prefix (its styles only reach its own template), '' for app.wxss and pages.
function compileWxss(appDir, file, prefix) {
  if (!fs.existsSync(path.join(appDir, file))) return '';
  // Files it may @import must be named after it; its JS keeps a %s placeholder line for them.
  const others = findFiles(appDir, '.wxss').filter((f) => f !== file);
  const source = runCompiler('wcsc', ['-js', file, ...others], appDir).replace(/^%s$/m, '');
  const head = window.document.head;
  const before = head.querySelectorAll('style').length;
  // The code ends calling the sheet with __wxAppSuffixCode__ (the class suffix); give it the prefix.
  const script = `var __wxAppSuffixCode__ = ${JSON.stringify(prefix)};\n${source}`;
  vm.runInContext(script, dom.getInternalVMContext(), { filename: file });
  const styles = [...head.querySelectorAll('style')].slice(before);
  const css = styles.map((s) => s.textContent).join('\n');
  for (const s of styles) s.remove();
  return css;
}

// Data that records every path the template reads and the state does not have.
function tracked(value, where, missing) {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || key in target) return tracked(Reflect.get(target, key, receiver), `${where}${Array.isArray(target) ? `[${String(key)}]` : `.${String(key)}`}`, missing);
      missing.add(`${where}.${key}`.replace(/^\./, ''));
      return undefined;
    },
    // wcc looks a name up with hasOwnProperty (in the wx:for scope, then in the data).
    getOwnPropertyDescriptor(target, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      if (!descriptor && typeof key === 'string' && !(key in target)) missing.add(`${where}.${key}`.replace(/^\./, ''));
      return descriptor;
    },
  });
}

const KNOWN_TAGS = new Set(['wx-page', 'virtual', 'wx-slot', 'wx-block', 'wx-import', 'wx-include', 'wx-template', 'wx-wxs', ...Object.keys(BUILTINS).map((n) => `wx-${n}`)]);

// Over wcc's output: rpx in an inline style="" the way WeChat converts it; tags WeChat does not
// know (neither built in nor in usingComponents), which it would show as bare text.
function walkTree(node, using, unknown) {
  if (!node || typeof node !== 'object') return;
  if (typeof node.tag === 'string' && !KNOWN_TAGS.has(node.tag) && !using.has(node.tag.replace(/^wx-/, '')) && !jComponentUtils.isOfficialTag(node.tag)) unknown.add(node.tag.replace(/^wx-/, ''));
  if (node.attr && typeof node.attr.style === 'string') node.attr.style = node.attr.style.replace(/(-?\d*\.?\d+)rpx/g, (_, n) => `${transformRpx(Number(n))}px`);
  if (Array.isArray(node.children)) for (const child of node.children) walkTree(child, using, unknown);
}

/**
 * Renders `pagePath` (e.g. 'pages/index/index') of the mini-program in `appDir` with `state` set on
 * top of the page's own data. Throws on a template or style the compilers refuse, on a tag that is
 * neither built in nor in usingComponents, and on a data path the template reads that the data
 * lacks. options.components: { 'privacy-popup': { show: true } } sets a component's own data (by
 * its tag), since its lifetimes do not run.
 */
function renderPage(appDir, pagePath, state = {}, options = {}) {
  return inBrowser(() => render(path.resolve(appDir), pagePath, state, options));
}

function render(appDir, pagePath, state, options) {
  const entries = [...collect(appDir, pagePath, 'wx-page').values()];
  for (const entry of entries) lintWxml(appDir, entry.key);
  const gwx = compileWxml(appDir, entries);
  currentAppDir = appDir;
  warnings = [];
  const missing = new Set();
  const unknown = new Set();
  const ids = new Map();
  const css = [compileWxss(appDir, 'app.wxss', '')];

  // Components first (deepest last registered first), so a template finds the ones it uses.
  for (const entry of entries.slice().reverse()) {
    const isPage = entry.key === pagePath;
    const definition = readDefinition(appDir, path.join(appDir, `${entry.key}.js`));
    const template = gwx(`${entry.key}.wxml`);
    if (typeof template !== 'function') throw new Error(`wcc produced no template for ${entry.key}.wxml`);
    const prefix = isPage ? '' : `${entry.tagName}-${++serial}`;
    const usingComponents = {};
    for (const [name, key] of Object.entries(entry.using)) usingComponents[name] = ids.get(key);
    const data = { ...(definition.data || {}), ...(isPage ? state : (options.components || {})[entry.tagName]) };
    const where = isPage ? '' : `<${entry.tagName}>`;
    const id = `render-wxml-${++serial}`;
    jComponent.register({
      id,
      tagName: isPage ? 'wx-page' : entry.tagName,
      template: (renderData) => {
        const tree = template(tracked(renderData, where, missing), {}, {});
        walkTree(tree, new Set(Object.keys(entry.using)), unknown);
        return tree;
      },
      usingComponents,
      properties: isPage ? undefined : definition.properties,
      data,
      options: { classPrefix: prefix, multipleSlots: !!(definition.options && definition.options.multipleSlots) },
    });
    ids.set(entry.key, id);
    css.push(compileWxss(appDir, `${entry.key}.wxss`, prefix ? `${prefix}--` : ''));
  }

  const page = simulate.render(ids.get(pagePath));
  const container = window.document.createElement('div');
  window.document.body.appendChild(container);
  page.attach(container);
  const element = container.firstElementChild;
  const problems = [];
  if (unknown.size) problems.push(['WXML_TAG', `${pagePath}: <${[...unknown].join('>, <')}> is neither a WeChat component nor in usingComponents`]);
  if (missing.size && !options.allowMissing) problems.push(['WXML_DATA', `${pagePath}.wxml reads data the page does not have: ${[...missing].join(', ')}`]);
  if (problems.length) {
    page.detach();
    container.remove();
    const error = new Error(problems.map((p) => p[1]).join('; '));
    error.code = problems[0][0];
    throw error;
  }
  return makeResult(appDir, pagePath, entries[0].json, element, css.join('\n'), missing, warnings);
}

// Text a person sees: no hidden subtrees; blocks apart, inline text (wx-text, wx-label) run on.
const INLINE = new Set(['WX-TEXT', 'WX-LABEL', 'SPAN']);
function visibleText(node) {
  if (node.nodeType === 3) return node.textContent;
  if (node.nodeType !== 1 || node.hasAttribute('hidden')) return '';
  let text = '';
  for (const child of node.childNodes) {
    const part = visibleText(child);
    text += child.nodeType === 1 && !INLINE.has(child.tagName) ? ` ${part} ` : part;
  }
  return text;
}
const squash = (s) => s.replace(/\s+/g, ' ').trim();

function makeResult(appDir, pagePath, pageJson, element, css, missing, warned) {
  const app = readJson(path.join(appDir, 'app.json'));
  const window_ = { ...(app.window || {}), ...pageJson };
  return {
    page: pagePath,
    element,
    css,
    html: element.innerHTML,
    missing: [...missing],
    /** What WeChat's template runtime warned about (e.g. a wx:for without wx:key). */
    warnings: warned,
    navigationBarTitleText: window_.navigationBarTitleText || '',
    window: window_,
    /** The elements matching a CSS selector (tags are wx-view, wx-button...). */
    all(selector) {
      return [...element.querySelectorAll(selector)];
    },
    /** Visible text of the first match (or of the whole page), whitespace collapsed. */
    text(selector) {
      const node = selector ? element.querySelector(selector) : element;
      if (!node) throw new Error(`${pagePath}: nothing matches ${selector}`);
      return squash(visibleText(node));
    },
    /** Visible text of every match. */
    texts(selector) {
      return this.all(selector).map((n) => squash(visibleText(n)));
    },
    /**
     * A standalone HTML document of the page as a phone shows it: WeChat's navigation bar with the
     * page's title, then the page, with the base styles and the compiled WXSS inlined.
     */
    toDocument({ fontFamily = '"WenQuanYi Micro Hei"', navigationBar = true } = {}) {
      const bar = window_.navigationBarBackgroundColor || '#000000';
      const fg = window_.navigationBarTextStyle === 'white' ? '#ffffff' : '#000000';
      const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
      const navigation = navigationBar
        ? `<div class="mp-navigation-bar" style="background:${bar};color:${fg}"><span class="mp-title">${esc(window_.navigationBarTitleText || '')}</span><span class="mp-capsule"><i></i><b></b></span></div>`
        : '';
      return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=${SCREEN_WIDTH}, initial-scale=1">
<title>${esc(pagePath)}</title>
<style>
${BASE_CSS}
body { font-family: ${fontFamily}, sans-serif; background: ${window_.backgroundColor || '#ffffff'}; }
.mp-navigation-bar { position: relative; height: 44px; line-height: 44px; text-align: center; font-size: 17px; font-weight: 600; }
.mp-capsule { position: absolute; right: 7px; top: 6px; width: 87px; height: 32px; box-sizing: border-box; border: 0.5px solid rgba(0, 0, 0, .15); border-radius: 16px; background: rgba(255, 255, 255, .6); }
.mp-capsule i { position: absolute; left: 13px; top: 14px; width: 18px; height: 4px; background: radial-gradient(circle, #000 1.6px, transparent 2px) 0 0 / 6px 4px repeat-x; }
.mp-capsule::after { content: ""; position: absolute; left: 43px; top: 8px; width: 0.5px; height: 16px; background: rgba(0, 0, 0, .2); }
.mp-capsule b { position: absolute; right: 13px; top: 8px; width: 14px; height: 14px; box-sizing: border-box; border: 2px solid #000; border-radius: 50%; }
</style>
<style>
${css}
</style>
</head>
<body>
${navigation}${element.innerHTML}
</body>
</html>
`;
    },
  };
}

/** The pages app.json lists, in order. */
function pagesOf(appDir) {
  return readJson(path.join(appDir, 'app.json')).pages || [];
}

module.exports = { renderPage, pagesOf, transformRpx, BASE_CSS };
