/** Injection token of the console's resolved options. */
export const CONSOLE_OPTIONS = Symbol('CHRONICLE_CONSOLE_OPTIONS');
/** Injection token of the application's guard, as given to `forRoot`. */
export const CONSOLE_APP_GUARD = Symbol('CHRONICLE_CONSOLE_APP_GUARD');
/** Route metadata: a console route open without credentials (the login form, the static assets). */
export const CONSOLE_PUBLIC = 'chronicle-console:public';
/** Where the console keeps its per-request state on the request object. */
export const CONSOLE_REQUEST_STATE = Symbol('chronicle-console:request');
/** Route metadata: the login form's post (the access guard checks the token it carries). */
export const CONSOLE_LOGIN = 'chronicle-console:login';
