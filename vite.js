'use strict';
// `import mpSession from 'mp-session/vite'`, for tools that resolve files rather than exports.
module.exports = require('./js/node/vite.js');
