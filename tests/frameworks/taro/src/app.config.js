export default defineAppConfig({
  pages: ['pages/index/index'],
  window: {
    navigationBarTitleText: 'mp-session',
  },
  // Alipay: mp-session's core runs in a Worker, started from workers/mp-session/ (the plugin writes
  // that directory; app.json must name its parent, or my.createWorker refuses the script).
  ...(process.env.TARO_ENV === 'alipay' ? { workers: 'workers' } : {}),
});
