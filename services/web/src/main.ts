import { AuthRequiredError, fetchSession, logOut } from './api.js';
import { backoffDelayMs } from './backoff.js';
import { h, replaceChildren } from './dom.js';
import { loginView } from './login-view.js';
import { StudyEventStream } from './study-events.js';
import { studyView } from './study-view.js';
import { tryMipView } from './try-mip-view.js';
import { errorBox, isFinalRefusal, retryNotice, type Shell, type View } from './view.js';
import { WORKLIST_LINK, worklistHref } from './worklist-url.js';
import { worklistView } from './worklist-view.js';

const events = new StudyEventStream(() => showLogin());
let current: View | undefined;
let authRequired = false;

const main = h('main', { class: 'content', attrs: { id: 'content' } });
const signOut = h('button', { class: 'btn ghost small', attrs: { type: 'button' }, on: { click: () => void signOutNow() } }, 'Sign out');
const nav = h('nav', { class: 'nav' },
  h('a', { attrs: { href: worklistHref(), 'data-link': '', 'data-nav': 'worklist', [WORKLIST_LINK]: '' } }, 'Worklist'),
  h('a', { attrs: { href: '/try', 'data-link': '', 'data-nav': 'try' } }, 'Try a MIP image'));

const shell: Shell = {
  navigate(path) {
    history.pushState(null, '', path);
    route();
  },
  authRequired: () => showLogin(),
  onStudiesChanged: (listener) => events.subscribe(listener),
};

function show(view: View | HTMLElement): void {
  current?.dispose();
  current = view instanceof HTMLElement ? undefined : view;
  replaceChildren(main, view instanceof HTMLElement ? view : view.element);
}

function route(): void {
  const path = location.pathname;
  const study = /^\/studies\/([0-9.]+)$/.exec(path)?.[1];
  for (const a of nav.querySelectorAll<HTMLElement>('a')) a.classList.toggle('active', a.dataset['nav'] === (path === '/try' ? 'try' : 'worklist'));
  if (study) show(studyView(shell, study));
  else if (path === '/try') show(tryMipView(shell));
  else show(worklistView(shell));
  window.scrollTo(0, 0);
}

function showLogin(): void {
  events.close();
  signOut.hidden = true;
  show(loginView(() => void start()));
}

async function signOutNow(): Promise<void> {
  await logOut().catch(() => undefined);
  showLogin();
}

let startFailures = 0;
/** Counts starts: an answer to an earlier one (a retry the reader overtook by signing in again) is dropped. */
let starting = 0;

async function start(): Promise<void> {
  const ticket = ++starting;
  try {
    ({ authRequired } = await fetchSession());
  } catch (err) {
    if (ticket !== starting) return;
    if (err instanceof AuthRequiredError) return showLogin();
    if (isFinalRefusal(err)) return show(errorBox(err));
    return show(startRetry(err));
  }
  if (ticket !== starting) return;
  startFailures = 0;
  signOut.hidden = !authRequired;
  route();
}

/**
 * A start that failed where asking again may pass (the gateway restarting behind its proxy, 502; the network): said,
 * and tried again, not left for a reload. A view, so that leaving it (a link, Back, the login form) cancels the retry.
 */
function startRetry(err: unknown): View {
  const delay = backoffDelayMs(startFailures++);
  const timer = window.setTimeout(() => void start(), delay);
  return {
    element: h('div', {}, errorBox(err), retryNotice(delay)),
    // And a start already asking: its answer would replace the page the reader moved on to.
    dispose: () => {
      window.clearTimeout(timer);
      starting++;
    },
  };
}

// Links marked data-link change the view without a page load.
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest<HTMLAnchorElement>('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  shell.navigate(a.getAttribute('href') ?? '/');
});
window.addEventListener('popstate', route);

const root = document.getElementById('app');
if (root) {
  replaceChildren(root,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', attrs: { href: '/', 'data-link': '' } }, h('span', { class: 'logo', attrs: { 'aria-hidden': 'true' } }), 'mipseg',
        h('span', { class: 'brand-sub' }, 'PET AI')),
      nav, h('div', { class: 'topbar-right' }, signOut)),
    main,
    h('footer', { class: 'footer' }, 'mipseg — research use only, not a medical device. Results need review by a qualified reader.'));
  void start();
}
