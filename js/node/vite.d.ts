/** Vite plugin for uni-app: `plugins: [uni(), mpSession()]` emits the wasm into the build output. */
declare function mpSession(): {
  name: string;
  buildStart(): void;
  generateBundle(): void;
};
export default mpSession;
