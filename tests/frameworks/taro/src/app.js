import { useLaunch } from '@tarojs/taro';
import Taro from '@tarojs/taro';
import { createClient } from 'mp-session';

// Douyin's tt.login codes and Alipay's my.getAuthCode authCodes are exchanged at the server's
// Douyin and Alipay routes (`taro build --type tt`, `--type alipay`).
const LOGIN_PATHS = { tt: '/auth/douyin/login', alipay: '/auth/alipay/login' };
const loginPath = LOGIN_PATHS[process.env.TARO_ENV] || '/auth/login';

// One client for the app, created at launch (WeChat advises calling wx.login from onLaunch).
function App({ children }) {
  useLaunch(() => {
    const auth = createClient({ baseUrl: 'http://127.0.0.1:8080', loginPath, allowInsecureHttp: true });
    auth.ensureLogin()
      .then(() => auth.request({ url: '/api/me' }))
      .then(
        // Alipay's replies carry `status` where WeChat's and Douyin's carry `statusCode`.
        (res) => Taro.showToast({ title: 'me:' + (res.statusCode !== undefined ? res.statusCode : res.status) + ':' + (res.data && res.data.userId) }),
        (e) => Taro.showToast({ title: 'error:' + (e && e.code) }),
      );
  });
  return children;
}

export default App;
