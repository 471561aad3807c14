// DOM helpers shared by every page of the portal.
//
// Every element is built with createElement and textContent, never innerHTML,
// so data from the server cannot inject markup; the Content-Security-Policy
// forbids inline scripts and style attributes anyway, so looks come from
// classes in app.css only.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
        if (value === undefined || value === null || value === false) continue;
        if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
        else if (key === 'text') node.textContent = value;
        else if (value === true) node.setAttribute(key, '');
        else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) continue;
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
}

// el('div', {class: 'x', onclick: fn}, child, 'text', ...) builds an element.
export function el(tag, attrs, ...children) {
    return fill(document.createElement(tag), attrs, children);
}

// svg('rect', {x: 0, width: 10}) builds an SVG element (attributes, not styles).
export function svg(tag, attrs, ...children) {
    return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

// Replaces a node's children; like el(), nested arrays are flattened and
// null, undefined and false are left out.
export function put(node, ...children) {
    node.replaceChildren();
    return fill(node, {}, children);
}

export function mount(...children) {
    put(document.getElementById('app'), ...children);
}

// The label of an enum value from a {VALUE: 'Label'} map whose first entry is
// the unspecified value.
export function label(map, value) {
    return map[value] || map[Object.keys(map)[0]];
}

// <option>s of an enum map; the first (unspecified) entry gets the value ''.
export function options(map, selected, firstLabel) {
    return Object.entries(map).map(([value, text], i) =>
        el('option', { value: i === 0 ? '' : value, selected: value === selected },
            i === 0 && firstLabel ? firstLabel : text));
}

// <option>s of an enum map without its unspecified entry.
export function choices(map, selected) {
    return Object.entries(map).slice(1).map(([value, text]) =>
        el('option', { value, selected: value === selected }, text));
}

const pad = (n) => String(n).padStart(2, '0');

// A timestamp (RFC 3339, UTC) in the browser's time zone.
export function formatTime(ts) {
    if (!ts) return '–';
    const d = new Date(ts);
    if (isNaN(d.getTime())) return ts;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A calendar date "YYYY-MM-DD" is a day, not an instant: it is shown as it is,
// never shifted by the time zone.
export function formatDate(day) {
    return day || '–';
}

// Today in the browser's time zone, "YYYY-MM-DD", plus `days`.
export function isoDay(days) {
    const d = new Date();
    d.setDate(d.getDate() + (days || 0));
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// Days between two "YYYY-MM-DD" dates (b - a), computed in UTC so that
// daylight-saving changes do not matter.
export function dayDiff(a, b) {
    return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86400000);
}

// A <input type=datetime-local> value for a Date, in local time.
export function localInputValue(d) {
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Minor units of money as text, e.g. 1250000 EUR -> "12,500.00 EUR".
export function formatMoney(minor, currency) {
    const value = Number(minor || 0) / 100;
    return `${value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}` +
        (currency ? ` ${currency}` : '');
}

// "12,500.50" or "12500.5" -> "1250050" (int64 as a JSON string), or null.
export function parseMoney(text) {
    const clean = String(text).replace(/[\s,]/g, '');
    if (!/^\d+(\.\d{1,2})?$/.test(clean)) return null;
    const [whole, frac = ''] = clean.split('.');
    return String(BigInt(whole) * 100n + BigInt((frac + '00').slice(0, 2)));
}

export function field(text, input, wide) {
    return el('div', { class: wide ? 'field span-all' : 'field' },
        el('label', { for: input.id }, text), input);
}

export function notice(text) {
    return el('div', { class: 'notice', role: 'status', hidden: !text }, text || '');
}

export function flash(box, text) {
    box.textContent = text;
    box.hidden = false;
}

export function errorBox() {
    return el('div', { class: 'alert', role: 'alert', hidden: true });
}

// A button that asks for a second click before it acts (for small, reversible
// or clearly named actions; merging uses a real dialog).
export function confirmButton(text, confirmText, attrs, action) {
    const button = el('button', Object.assign({ type: 'button', class: 'btn btn-danger' }, attrs), text);
    let armed = false;
    button.addEventListener('click', async () => {
        if (!armed) {
            armed = true;
            button.textContent = confirmText;
            return;
        }
        button.disabled = true;
        try {
            await action();
        } finally {
            armed = false;
            button.disabled = false;
            button.textContent = text;
        }
    });
    return button;
}

// A modal <dialog> asking to confirm; resolves true when confirmed.
export function confirmDialog(title, text, confirmText) {
    return new Promise((resolve) => {
        const yes = el('button', { type: 'button', class: 'btn btn-danger', id: 'dialog-confirm' }, confirmText);
        const no = el('button', { type: 'button', class: 'btn', id: 'dialog-cancel' }, 'Cancel');
        const dialog = el('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
            el('h2', { id: 'dialog-title' }, title), el('p', {}, text),
            el('div', { class: 'actions' }, no, yes));
        const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
        yes.addEventListener('click', () => done(true));
        no.addEventListener('click', () => done(false));
        dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); done(false); });
        document.body.append(dialog);
        dialog.showModal();
        no.focus();
    });
}

// A table with a head row; returns [table wrapper, tbody].
export function table(id, headings) {
    const tbody = el('tbody', {});
    const wrap = el('div', { class: 'table-wrap' },
        el('table', { class: 'table', id },
            el('thead', {}, el('tr', {}, headings.map((h) => el('th', { scope: 'col' }, h)))),
            tbody));
    return [wrap, tbody];
}
