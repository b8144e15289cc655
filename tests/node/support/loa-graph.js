// SPDX-License-Identifier: MIT
// Starts the built loa-graph on a free port for a test and talks to its admin API.
// Uses only Node's built-ins, so tests without npm dependencies can use it too.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

function binary() {
  const dir = process.env.LOA_BIN || path.join(__dirname, '..', '..', '..', 'build', 'bin');
  return path.join(dir, 'loa-graph');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Starts loa-graph with extra arguments; resolves to { base, port, admin, stop }.
async function start(args = []) {
  const base = process.env.LOA_TEST_TMPDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'loa-graph-'));
  const portFile = path.join(dir, 'port');
  const proc = spawn(binary(), ['--listen', '127.0.0.1:0', '--port-file', portFile, ...args], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  let spawnError = null;
  proc.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
    proc.on('error', (err) => {
      spawnError = err;
      resolve({ code: -1, signal: null });
    });
  });
  for (let i = 0; i < 200 && !fs.existsSync(portFile); i++) {
    if (proc.exitCode !== null || spawnError) break;
    await sleep(25);
  }
  if (spawnError) throw new Error(`cannot run ${binary()}: ${spawnError.message}`);
  if (!fs.existsSync(portFile)) {
    proc.kill('SIGKILL');
    throw new Error(`loa-graph did not start: ${stderr}`);
  }
  const port = Number(fs.readFileSync(portFile, 'utf8').trim());
  const url = `http://127.0.0.1:${port}`;

  async function request(method, p, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
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
    return { status: res.status, json, text };
  }

  const admin = {
    get: (p) => request('GET', `/_admin/${p}`),
    post: (p, body) => request('POST', `/_admin/${p}`, body),
  };

  // Stops with SIGTERM and resolves to the exit code (must be 0 for a clean stop).
  async function stop() {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    const r = await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    if (r.code !== 0) throw new Error(`loa-graph exited with ${r.code}/${r.signal}: ${stderr}`);
    return r.code;
  }

  return { base: url, port, admin, request, stop, proc, stderr: () => stderr };
}

// A webhook receiver on a free port that records every POST with its signature check.
async function webhookReceiver(secret, { failFirst = 0 } = {}) {
  const received = [];
  let failures = failFirst;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (failures > 0) {
        failures--;
        res.writeHead(500);
        res.end();
        return;
      }
      const expected =
        'sha256=' + crypto.createHmac('sha256', secret).update(raw).digest('hex');
      received.push({
        body: JSON.parse(raw.toString('utf8')),
        signatureOk: req.headers['x-hub-signature-256'] === expected,
      });
      res.writeHead(200);
      res.end('EVENT_RECEIVED');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/webhook`;
  // Resolves once pred(events) is true, polling; events are the flattened messaging[] items.
  async function waitFor(pred, timeoutMs = 5000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const events = received.flatMap((r) => r.body.entry.flatMap((e) => e.messaging));
      if (pred(events)) return events;
      if (Date.now() > until) throw new Error(`timed out; got ${JSON.stringify(events)}`);
      await sleep(20);
    }
  }
  return { url, received, waitFor, close: () => new Promise((r) => server.close(r)) };
}

module.exports = { start, webhookReceiver, sleep, binary };
