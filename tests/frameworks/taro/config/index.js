// Taro build configuration: the smallest a weapp React app needs, plus mp-session's build plugin,
// which puts mp_session_bg.wasm.br at miniprogram_npm/mp-session/ in the output (for alipay: the
// Worker directory workers/mp-session/, which src/app.config.js declares).
module.exports = function () {
  return {
    projectName: 'mp-session-fixture-taro',
    designWidth: 750,
    deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
    sourceRoot: 'src',
    outputRoot: 'dist',
    plugins: ['mp-session/taro'],
    framework: 'react',
    compiler: { type: 'webpack5', prebundle: { enable: false } },
    cache: { enable: false },
    mini: {},
  };
};
