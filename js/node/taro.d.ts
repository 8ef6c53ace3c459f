/** Taro plugin: `plugins: ['mp-session/taro']` in config/index.js puts the wasm in the build output. */
declare function mpSessionTaro(ctx: unknown): void;
export = mpSessionTaro;
