// SPDX-License-Identifier: MIT
// Starts the built `loa serve` on a free port with a temporary store, and signs webhooks.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.LOA_BIN || path.join(__dirname, '..', '..', '..', 'build', 'bin');
const LOA = path.join(BIN, 'loa');
const VERIFY = 'verify-me';
const SECRET = 'app-secret-1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls pred (async) every 50 ms until it returns something truthy, which it returns; throws
// after timeoutMs naming what it waited for.
async function waitFor(pred, timeoutMs = 10000, what = 'a condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function sign(body, secret = SECRET) {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');
}

// A temporary store with an admin and a staff key.
function makeStore() {
  const base = process.env.LOA_TEST_TMPDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'loa-serve-'));
  const store = path.join(dir, 'loa.db');
  const run = (...args) => {
    const r = spawnSync(LOA, ['--store', store, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`loa ${args.join(' ')}: ${r.status} ${r.stderr}`);
    return r.stdout.trim();
  };
  run('init');
  const admin = run('apikey', 'create', '--role', 'admin', '--name', 'test-admin');
  const staff = run('apikey', 'create', '--role', 'staff');
  return { dir, store, admin, staff, run };
}

// Starts loa serve on s (from makeStore); resolves to { url, proc, stop, kill, log }.
async function serve(s, env = {}) {
  const portFile = path.join(s.dir, `port-${Date.now()}-${Math.random()}`);
  const proc = spawn(
    LOA,
    ['--store', s.store, '--listen', '127.0.0.1:0', 'serve', '--port-file', portFile],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        LOA_WEBHOOK_VERIFY_TOKEN: VERIFY,
        LOA_WEBHOOK_APP_SECRET: SECRET,
        LOA_GRAPH_URL: 'http://127.0.0.1:9',
        ...env,
      },
    },
  );
  let log = '';
  proc.stderr.on('data', (d) => (log += d.toString()));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 400 && !fs.existsSync(portFile); i++) {
    if (proc.exitCode !== null) break;
    await sleep(25);
  }
  if (!fs.existsSync(portFile)) {
    proc.kill('SIGKILL');
    throw new Error(`loa serve did not start: ${log}`);
  }
  const url = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  return {
    url,
    proc,
    log: () => log,
    exited,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    kill() {
      proc.kill('SIGKILL');
      return exited;
    },
  };
}

async function request(url, method, p, { body, key, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (key) init.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url + p, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function postWebhook(url, payload, secret = SECRET) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return request(url, 'POST', '/webhook', {
    body,
    headers: { 'X-Hub-Signature-256': sign(body, secret), 'Content-Type': 'application/json' },
  });
}

function envelope(pageId, items) {
  return { object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: items }] };
}

function message(pageId, psid, mid, text, ts = Date.now()) {
  return { sender: { id: psid }, recipient: { id: pageId }, timestamp: ts, message: { mid, text } };
}

function cleanup(s) {
  fs.rmSync(s.dir, { recursive: true, force: true });
}

module.exports = {
  LOA, VERIFY, SECRET, sleep, waitFor, sign, makeStore, serve, request, postWebhook, envelope, message,
  cleanup,
};
