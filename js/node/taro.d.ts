/**
 * Taro plugin: `plugins: ['mp-session/taro']` in config/index.js puts the wasm in the build output
 * (miniprogram_npm/mp-session/); for `--type alipay` the Worker directory workers/mp-session/
 * instead, and the build fails unless app.json declares "workers" (app.config.js: `workers: 'workers'`).
 */
declare function mpSessionTaro(ctx: unknown): void;
export = mpSessionTaro;
