const { createClient } = require('mp-session');
const config = require('./config.js');

App({
  onLaunch() {
    // One client for the whole app. WeChat advises logging in from onLaunch (not onShow): the login
    // starts now, and every page that asks shares it.
    this.auth = createClient({ baseUrl: config.baseUrl, allowInsecureHttp: config.allowInsecureHttp });
    this.auth.ensureLogin().catch(() => {
      // Pages show login errors when they ask; nothing to do here.
    });
  },
});
