// One-tap phone login and the kept login reply, typed. `createClient<Reply>` with `replyFields`
// makes every LoginState (and 'login' event) carry `reply: Reply`; a payload login is typed so
// that `code` cannot be overridden. Type-checked with the rest of this folder; the calls at the
// end are what the types refuse (each fails to compile without its expect-error comment).
import { createClient, LoginState, SessionClient, SessionEvent } from 'mp-session';

interface User {
  id: string;
  nickname?: string;
  phone?: string;
}

/** The kept fields: absent when the server did not send them. */
interface Kept {
  user?: User;
  isNewUser?: boolean;
}

const auth: SessionClient<Kept> = createClient<Kept>({
  baseUrl: 'https://api.example.com',
  platform: wx,
  replyFields: ['user', 'isNewUser'],
});

auth.onChange((event: SessionEvent<Kept>) => {
  if (event.type === 'login') console.log('logged in as', event.reply && event.reply.user && event.reply.user.id);
});

Page({
  data: { userId: '', isNewUser: false },
  async onLoad() {
    const state: LoginState<Kept> = await auth.ensureLogin();
    this.show(state);
  },
  // <button open-type="getPhoneNumber" bindgetphonenumber="onGetPhoneNumber">
  async onGetPhoneNumber(e: WechatMiniprogram.ButtonGetPhoneNumber) {
    if (!e.detail.code) return; // the user declined
    this.show(await auth.ensureLogin({ force: true, payload: { phoneCode: e.detail.code } }));
  },
  show(state: LoginState<Kept>) {
    this.setData({ userId: state.reply.user ? state.reply.user.id : '', isNewUser: state.reply.isNewUser === true });
  },
});

// What the types refuse.
const plain = createClient({ baseUrl: 'https://api.example.com', platform: wx });
plain.ensureLogin().then((state) => {
  // @ts-expect-error a client without replyFields has no reply
  const kept: object = state.reply;
  return kept;
});
// @ts-expect-error `code` is the one wx.login gives the exchange
auth.ensureLogin({ force: true, payload: { code: 'mine' } });
// @ts-expect-error a login with a payload is always forced
auth.ensureLogin({ force: false, payload: { phoneCode: 'x' } });
// @ts-expect-error a payload holds JSON values only
auth.ensureLogin({ payload: { when: new Date() } });
// @ts-expect-error naming the reply's type needs replyFields
createClient<Kept>({ baseUrl: 'https://api.example.com' });
