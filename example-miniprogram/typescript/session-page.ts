// The example in TypeScript: mp-session's types next to WeChat's own (miniprogram-api-typings).
// Type-checked in the test suite with `tsc --noEmit -p example-miniprogram`; not part of the package
// DevTools builds (project.config.json ignores this folder).
import { createClient, isMpSessionError, LoginState, MpSessionErrorCode, SessionClient } from 'mp-session';

interface AppOption {
  auth: SessionClient;
}

App<AppOption>({
  // `wx` itself satisfies the SDK's Platform type.
  auth: createClient({ baseUrl: 'https://api.example.com', platform: wx }),
  onLaunch() {
    this.auth.ensureLogin().catch(() => undefined);
  },
});

interface Me {
  userId: string;
}

Page({
  data: {
    userId: '',
    expiresAt: 0,
    errorCode: '' as MpSessionErrorCode | '',
  },
  async onLoad() {
    const { auth } = getApp<AppOption>();
    try {
      const state: LoginState = await auth.ensureLogin();
      const res = await auth.request<Me>({ url: '/api/me' });
      this.setData({ userId: res.data.userId, expiresAt: state.expiresAt });
    } catch (error) {
      if (isMpSessionError(error)) {
        this.setData({ errorCode: error.code });
        wx.showToast({ title: `${error.code}${error.retryable ? '，请重试' : ''}`, icon: 'none' });
      }
    }
  },
});
