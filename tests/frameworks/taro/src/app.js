import { useLaunch } from '@tarojs/taro';
import Taro from '@tarojs/taro';
import { createClient } from 'mp-session';

// Douyin's tt.login codes are exchanged at the server's Douyin route (`taro build --type tt`).
const loginPath = process.env.TARO_ENV === 'tt' ? '/auth/douyin/login' : '/auth/login';

// One client for the app, created at launch (WeChat advises calling wx.login from onLaunch).
function App({ children }) {
  useLaunch(() => {
    const auth = createClient({ baseUrl: 'http://127.0.0.1:8080', loginPath, allowInsecureHttp: true });
    auth.ensureLogin()
      .then(() => auth.request({ url: '/api/me' }))
      .then(
        (res) => Taro.showToast({ title: 'me:' + res.statusCode + ':' + (res.data && res.data.userId) }),
        (e) => Taro.showToast({ title: 'error:' + (e && e.code) }),
      );
  });
  return children;
}

export default App;
