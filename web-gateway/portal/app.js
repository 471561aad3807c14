// Concord portal: the entry module. It restores the session and routes the
// hash to a page:
//   #/login, #/accounts, #/accounts/<id>[/<tab>], #/renewals, #/events, #/tasks
//
// Plain JavaScript modules, no build step. The page talks to concord-gateway
// only: /auth/* for the session cookie and the Connect JSON API
// (POST /concord.v1.<Service>/<Method>) for data; see api.js.
import { session } from './api.js';
import { loginPage, restoreSession, logout, setSession } from './login.js';
import { accountsPage } from './accounts.js';
import { detailPage, leaveDetail } from './account-detail.js';
import { renewalsPage } from './renewals.js';
import { eventsPage, tasksPage } from './events.js';

const PAGES = { '#/accounts': accountsPage, '#/renewals': renewalsPage, '#/events': eventsPage, '#/tasks': tasksPage };

function markNav(hash) {
    for (const a of document.querySelectorAll('#topnav a')) {
        const active = hash.startsWith(a.getAttribute('href'));
        a.classList.toggle('active', active);
        if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
}

function route() {
    const hash = location.hash || '#/accounts';
    if (!session.user) { leaveDetail(); loginPage(); return; }
    if (hash === '#/login') { location.hash = '#/accounts'; return; }
    markNav(hash);
    const m = hash.match(/^#\/accounts\/([^/]+)(?:\/([a-z]+))?$/);
    if (m) {
        detailPage(decodeURIComponent(m[1]), m[2] || 'overview');
        return;
    }
    leaveDetail();
    (PAGES[hash] || accountsPage)();
}

session.onSignedOut = () => {
    setSession(null, '');
    if (location.hash !== '#/login') location.hash = '#/login';
    else route();
};

async function start() {
    document.getElementById('logout').addEventListener('click', logout);
    window.addEventListener('hashchange', route);
    await restoreSession();
    route();
}

start();
