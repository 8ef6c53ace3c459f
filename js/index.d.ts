// Type definitions for mp-session.

/** Stable error codes carried by `MpSessionError.code`. */
export type MpSessionErrorCode =
  | 'CONFIG_INVALID'
  | 'WASM_LOAD_FAILED'
  | 'WX_LOGIN_FAILED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'LOGIN_REJECTED'
  | 'RATE_LIMITED'
  | 'USER_BLOCKED'
  | 'SERVER_ERROR'
  | 'BAD_RESPONSE'
  | 'SESSION_EXPIRED'
  | 'LOGGED_OUT'
  | 'LOGIN_REQUIRED'
  | 'ABORTED'
  | 'DISPOSED'
  | 'HOST_UNSUPPORTED'
  | 'INTERNAL';

export class MpSessionError extends Error {
  readonly name: 'MpSessionError';
  readonly code: MpSessionErrorCode;
  /** Whether the same call, made again later, can succeed. */
  readonly retryable: boolean;
  /** WeChat's errcode (server reply) or errno (platform failure), where known. */
  readonly errcode?: number;
  /** WeChat's errMsg, or the server's errmsg, where known. */
  readonly errMsg?: string;
  /** HTTP status of the server reply behind the error, where there was one. */
  readonly statusCode?: number;
  /** For CONFIG_INVALID: the option at fault. */
  readonly option?: string;
}

/** True for an MpSessionError, even one from a second copy of the package. */
export function isMpSessionError(value: unknown): value is MpSessionError;

/** A failed platform call, as WeChat reports it. */
export interface PlatformError {
  errMsg: string;
  errno?: number;
}

/**
 * The subset of `wx` the SDK calls; `uni`, `tt`, `qq` or a test double fit too. The option types
 * are what the SDK passes, so `wx` as typed by miniprogram-api-typings is a Platform.
 */
export interface Platform {
  login(options: { timeout?: number; success(res: { code: string }): void; fail(err: PlatformError): void }): void;
  checkSession(options: { success(res?: unknown): void; fail(err: PlatformError): void }): void;
  request(options: {
    url: string;
    method?: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';
    data?: string | Record<string, unknown> | ArrayBuffer;
    header?: Record<string, string>;
    dataType?: 'json' | 'other';
    responseType?: 'text' | 'arraybuffer';
    timeout?: number;
    success(res: { statusCode: number; data: unknown; header?: Record<string, string>; cookies?: string[] }): void;
    fail(err: PlatformError): void;
  }): unknown;
  uploadFile?(options: UploadOptions & {
    success(res: { statusCode: number; data: string }): void;
    fail(err: PlatformError): void;
  }): unknown;
  downloadFile?(options: DownloadOptions & {
    success(res: { statusCode: number; tempFilePath: string; filePath?: string }): void;
    fail(err: PlatformError): void;
  }): unknown;
  getStorage(options: { key: string; success(res: { data: unknown }): void; fail(err: PlatformError): void }): void;
  setStorage(options: { key: string; data: unknown; success(res?: unknown): void; fail(err: PlatformError): void }): void;
  removeStorage(options: { key: string; success(res?: unknown): void; fail(err: PlatformError): void }): void;
}

export interface ClientOptions {
  /** Your server, e.g. 'https://api.example.com'. http:// is refused unless allowInsecureHttp. */
  baseUrl: string;
  /** Path of the code exchange: POST { code } (Douyin without a code: { anonymousCode }) → { token, expiresIn }. Default '/auth/login'. */
  loginPath?: string;
  /** The platform object. Default: the global `wx`, else Douyin's `tt`. */
  platform?: Platform;
  /**
   * Douyin: let tt.login show its login sheet to a user not logged into the Douyin app (its
   * `force`). Default false: such a user logs in with the `anonymousCode`, posted as
   * `{ anonymousCode }`. Ignored elsewhere.
   */
  forceHostLogin?: boolean;
  /** Path of the wasm in the code package. Default '/miniprogram_npm/mp-session/mp_session_bg.wasm.br'. */
  wasmPath?: string;
  /** Storage key of the session. Default 'mp-session'. */
  storageKey?: string;
  /** Bound on every platform call, in ms (1–60000). Default 10000. */
  timeoutMs?: number;
  /** Allow an http:// baseUrl. For local development only. Default false. */
  allowInsecureHttp?: boolean;
  /** Ask wx.checkSession once before trusting a stored session. Default false. */
  checkSession?: boolean;
  /** Field (or dotted path) of the token in the login reply. Default 'token'. */
  tokenField?: string;
  /** Field (or dotted path) of the lifetime in seconds in the login reply. Default 'expiresIn'. */
  expiresInField?: string;
  /** A session this close to expiry counts as expired, in ms. Default 60000. */
  expiryMarginMs?: number;
  /** Header that carries the token. Default 'Authorization'. */
  tokenHeader?: string;
  /** Word before the token ('Bearer <token>'); '' sends the raw token. Default 'Bearer'. */
  tokenScheme?: string;
  /** Origins besides baseUrl's that receive the token, e.g. ['https://files.example.com']. */
  trustedOrigins?: string[];
  /** What means "session expired". Default { statuses: [401] }. */
  expiredWhen?: { statuses?: number[]; bodyField?: string; bodyValues?: Array<number | string> };
  /** Platform requests in flight at once (1–10; WeChat's limit is 10). Default 10. */
  maxConcurrentRequests?: number;
  /** Attempts of a GET/HEAD request whose transport fails (1–5). Other methods never retry. Default 2. */
  maxRequestAttempts?: number;
  /** Attempts of a login whose server fails (5xx, errcode -1), each with a fresh code. Default 3. */
  maxLoginAttempts?: number;
  /** First pause between attempts, in ms, doubled each time with jitter. Default 500. */
  retryBaseDelayMs?: number;
  /** Longest pause between attempts, in ms. Default 8000. */
  retryMaxDelayMs?: number;
  /**
   * Fields (or dotted paths such as 'user.id') of the login reply kept with the session, in memory
   * and in storage, and returned as `LoginState.reply`, nested as in the reply. A field missing
   * from the reply is absent; one named like `session_key` is refused (CONFIG_INVALID); a kept
   * reply over 16 KB as JSON fails the login (BAD_RESPONSE). Default: none, and no `reply`.
   */
  replyFields?: readonly string[];
  /**
   * Refresh tokens: a login reply's `refreshToken` is kept with the session (memory and storage,
   * never in a result, event or error) and posted as `{ refreshToken }` to `path` when the access
   * token is stale or rejected — one refresh for every caller, no wx.login. The reply reads like a
   * login's; a new refresh token replaces the old one. Refused (4xx, expiredWhen): a full login.
   */
  refresh?: {
    path: string;
    /** Field (or dotted path) of the refresh token in login and refresh replies. Default 'refreshToken'. */
    tokenField?: string;
    /** Field of the refresh token's lifetime in seconds. Default 'refreshExpiresIn'. */
    expiresInField?: string;
  };
  /**
   * false: the SDK never calls wx.login by itself. Without a valid session (after a refresh,
   * where configured) ensureLogin() and requests reject LOGIN_REQUIRED, and the client emits one
   * `loginRequired` event per episode; `login()` (or an explicit ensureLogin with force, payload
   * or freshSessionKey) makes a session. Default true.
   */
  silentLogin?: boolean;
  /**
   * Cookie sessions: the token is the value of this cookie as the login reply sets it; requests
   * to trusted origins (uploads and downloads too) send `Cookie: <name>=<token>`. A response that
   * sets it anew replaces it; one that clears it ends the session. Lifetime: Max-Age/Expires,
   * else expiresInField.
   */
  cookie?: string;
}

/**
 * What `ensureLogin()` resolves with. `reply`, the fields kept by `replyFields`, is there exactly
 * when the client was created with `replyFields`; `Reply` is its type.
 */
export type LoginState<Reply = undefined> = {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
} & (undefined extends Reply ? { reply?: Reply } : { reply: Reply });

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * What a login's code exchange sends beside the code: `{ code, ...payload }`, e.g. `{ phoneCode }`
 * from `<button open-type="getPhoneNumber">`. JSON values only, at most 4 KB as JSON; `code` is
 * reserved. Never stored, logged or put in an error message.
 */
export type LoginPayload = { [key: string]: JsonValue } & { code?: never };

/**
 * `force: true`: a new session even if the current one is valid. `payload`: a new session from an
 * exchange that also sends the payload — always its own exchange (it waits for a running login to
 * end instead of joining it), so `force` may be left out; `force: false` with a payload is refused.
 */
export type LoginOptions =
  | { force?: boolean; payload?: undefined; freshSessionKey?: false }
  | { force?: true; payload: LoginPayload; freshSessionKey?: false }
  /**
   * Before the page asks for encrypted data (wx.getWeRunData, share tickets): wx.checkSession
   * runs, and when WeChat says the session_key expired a forced login makes a new one. After it
   * succeeds the SDK starts no wx.login of its own for 5 minutes, until the next payload login.
   */
  | { force?: false; payload?: undefined; freshSessionKey: true };

/** `auth.login()`: `data` is posted as JSON to `path` (relative to baseUrl), without wx.login. */
export interface AccountLoginOptions {
  path: string;
  /** e.g. { username, password } or { phone, code }: never stored, logged or put in an error. */
  data: { [key: string]: JsonValue };
}

/** A request's promise, which `abort()` rejects with ABORTED (nothing when it is settled). */
export type AbortablePromise<T> = Promise<T> & { abort(): void };

export type SessionEvent<Reply = unknown> =
  | { type: 'login'; expiresAt: number; /** The new session's kept reply, with `replyFields`. */ reply?: Reply }
  | { type: 'logout' }
  | { type: 'expired' }
  /** silentLogin: false and no valid session: show the login page, then call login(). */
  | { type: 'loginRequired' }
  | { type: 'storageFailed'; message: string };

/** wx.request's options; `url` may be relative to baseUrl. `timeout` bounds the whole call. */
export interface RequestOptions {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS' | string;
  data?: string | object | ArrayBuffer;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: 'json' | string;
  responseType?: 'text' | 'arraybuffer';
}

/**
 * The platform's own success object, as it gave it: WeChat's and Douyin's `statusCode` and
 * `header`; Alipay's `status` and `headers` (there, pass `headers` in the options too).
 */
export interface RequestResult<T = unknown> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
}

/** What `request()` resolves with on Alipay (my.request's success object). */
export interface AlipayRequestResult<T = unknown> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

export interface UploadOptions {
  url: string;
  filePath: string;
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, string>;
  timeout?: number;
}

export interface DownloadOptions {
  url: string;
  header?: Record<string, string>;
  filePath?: string;
  timeout?: number;
}

/** A client; `Reply` is the type of the kept reply (`replyFields`), `undefined` without one. */
export interface SessionClient<Reply = undefined> {
  /** wx.request with the session: token attached, one re-login and replay on expiry. */
  request<T = unknown>(options: RequestOptions): AbortablePromise<RequestResult<T>>;
  /** wx.uploadFile with the session. `data` is the server's reply as text. */
  uploadFile(options: UploadOptions): AbortablePromise<{ statusCode: number; data: string }>;
  /** wx.downloadFile with the session. */
  downloadFile(options: DownloadOptions): AbortablePromise<{ statusCode: number; tempFilePath: string; filePath?: string }>;
  /** The stored session if still valid, else one login shared by every concurrent caller. */
  ensureLogin(options?: LoginOptions): Promise<LoginState<Reply>>;
  /** Logs in by account (password, SMS code) without wx.login; the reply reads like a login's. */
  login(options: AccountLoginOptions): Promise<LoginState<Reply>>;
  /** Clears the session in memory and in storage. */
  logout(): Promise<void>;
  /** Subscribes to session changes; returns the unsubscribe function. */
  onChange(listener: (event: SessionEvent<Reply>) => void): () => void;
  /**
   * Ends the client: calls in flight and every later call reject `DISPOSED`, listeners are
   * dropped, its wasm memory, timer and callbacks are freed. The stored session stays.
   */
  dispose(): Promise<void>;
}

/** Creates a client. Synchronous; the wasm loads once per app on first use. */
export function createClient(options: ClientOptions & { replyFields?: undefined }): SessionClient;
/**
 * A client that keeps `replyFields` of the login reply: every `LoginState` and `login` event
 * carries them as `reply`, typed `Reply`, e.g.
 * `createClient<{ user: User; isNewUser: boolean }>({ baseUrl, replyFields: ['user', 'isNewUser'] })`.
 */
export function createClient<Reply extends object = Record<string, unknown>>(
  options: ClientOptions & { replyFields: readonly string[] },
): SessionClient<Reply>;
/** Options whose `replyFields` is not known to the compiler: `reply` may be there or not. */
export function createClient(options: ClientOptions): SessionClient<Record<string, unknown> | undefined>;
