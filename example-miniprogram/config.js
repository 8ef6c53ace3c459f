// Where the example finds its server. `npm run server` (in the SDK's folder) starts the developer
// server on 127.0.0.1:8080 with a mock WeChat. On a phone, use your HTTPS domain (configured under
// 开发管理 → 服务器域名) and remove allowInsecureHttp: http:// is only for local development.
module.exports = {
  baseUrl: 'http://127.0.0.1:8080',
  allowInsecureHttp: true,
};
