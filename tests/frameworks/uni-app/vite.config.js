import { defineConfig } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';
import mpSession from 'mp-session/vite';

// mpSession() puts mp_session_bg.wasm.br at miniprogram_npm/mp-session/ in the output (for
// mp-alipay: the Worker directory workers/mp-session/, which src/manifest.json declares).
export default defineConfig({
  plugins: [uni(), mpSession()],
});
