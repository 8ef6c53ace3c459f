import { useLaunch } from '@tarojs/taro';
import Taro from '@tarojs/taro';
import { createClient } from 'mp-session';

// One client for the app, created at launch (WeChat advises calling wx.login from onLaunch).
function App({ children }) {
  useLaunch(() => {
    const auth = createClient({ baseUrl: 'http://127.0.0.1:8080', allowInsecureHttp: true });
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
