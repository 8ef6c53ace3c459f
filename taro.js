'use strict';
// `plugins: ['mp-session/taro']`: Taro 4 resolves plugins with the `resolve` package, which
// ignores package.json's exports, so the plugin is also reachable at this path.
module.exports = require('./js/node/taro.js');
