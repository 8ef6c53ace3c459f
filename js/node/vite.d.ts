/**
 * Vite plugin for uni-app: `plugins: [uni(), mpSession()]` emits the wasm into the build output
 * (miniprogram_npm/mp-session/); for `mp-alipay` the Worker directory workers/mp-session/ instead,
 * and the build fails unless app.json declares "workers" (manifest.json: "mp-alipay": { "workers": "workers" }).
 */
declare function mpSession(): {
  name: string;
  buildStart(): void;
  generateBundle(options?: unknown, bundle?: Record<string, unknown>): void;
};
export default mpSession;
