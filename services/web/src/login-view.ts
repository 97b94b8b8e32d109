import { ApiError, AuthRequiredError, logIn } from './api.js';
import { h, replaceChildren } from './dom.js';
import { errorBox } from './view.js';

/** The login form: the access token is checked by the server, which keeps it in an HttpOnly cookie. */
export function loginView(onLoggedIn: () => void): HTMLElement {
  const token = h('input', { attrs: { type: 'password', name: 'token', id: 'login-token', autocomplete: 'current-password', required: '' } });
  const message = h('div');
  const form = h('form', { class: 'login card', on: { submit: (e) => { e.preventDefault(); void submit(); } } },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'This mipseg server needs an access token (one of its AUTH_TOKENS).'),
    h('label', { class: 'field', attrs: { for: 'login-token' } }, h('span', {}, 'Access token'), token),
    message,
    h('button', { class: 'btn primary', attrs: { type: 'submit' } }, 'Sign in'));

  async function submit(): Promise<void> {
    try {
      await logIn(token.value.trim());
      onLoggedIn();
    } catch (err) {
      const text = err instanceof AuthRequiredError ? 'This token is not accepted.' : err instanceof ApiError ? err.message : String(err);
      replaceChildren(message, errorBox(new Error(text)));
      token.select();
    }
  }
  window.setTimeout(() => token.focus(), 0);
  return h('div', { class: 'login-wrap' }, form);
}
