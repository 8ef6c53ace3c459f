// The backend features in TypeScript (type-checked with `tsc --noEmit -p example-miniprogram`):
// refresh tokens, an account login with silentLogin: false, cookie sessions, abort and a fresh
// session_key before decrypting.
import { AbortablePromise, createClient, isMpSessionError, RequestResult } from 'mp-session';

const auth = createClient({
  baseUrl: 'https://api.example.com',
  platform: wx,
  silentLogin: false,
  refresh: { path: '/auth/refresh', tokenField: 'refreshToken', expiresInField: 'refreshExpiresIn' },
});

auth.onChange((event) => {
  if (event.type === 'loginRequired') wx.navigateTo({ url: '/pages/login/login' });
});

export async function signIn(username: string, password: string): Promise<number> {
  const state = await auth.login({ path: '/auth/password', data: { username, password } });
  return state.expiresAt;
}

export function search(q: string): AbortablePromise<RequestResult<{ hits: string[] }>> {
  const call = auth.request<{ hits: string[] }>({ url: '/api/search', data: { q } });
  call.catch((error) => {
    if (isMpSessionError(error) && error.code === 'ABORTED') return; // the page moved on
  });
  return call;
}

export async function werun(): Promise<void> {
  await auth.ensureLogin({ freshSessionKey: true });
  wx.getWeRunData({
    success: ({ encryptedData, iv }) => {
      auth.ensureLogin({ payload: { encryptedData, iv } }).catch(() => undefined);
    },
  });
}

export const cookieClient = createClient({ baseUrl: 'https://api.example.com', platform: wx, cookie: 'sid' });
