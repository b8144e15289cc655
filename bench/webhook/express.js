// SPDX-License-Identifier: MIT
// The peer of loa's webhook intake benchmark: the usual Node receiver for Messenger webhooks.
// Express 4, express.json() with a verify hook that checks X-Hub-Signature-256 (HMAC-SHA256 of
// the raw body with the app secret, crypto.timingSafeEqual), then the handler walks
// entry[].messaging[] and answers 200. It keeps nothing (no store), so it does strictly less
// than loa.
//
// Usage: node express.js PORT_FILE   (secret from WH_SECRET; listens on 127.0.0.1, free port)
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const express = require('express');

const secret = process.env.WH_SECRET || 'bench-app-secret';
const portFile = process.argv[2];

class SignatureError extends Error {}

function verify(req, _res, buf) {
  const header = req.get('X-Hub-Signature-256') || '';
  const [algo, hex] = header.split('=');
  if (algo !== 'sha256' || !hex) throw new SignatureError('missing signature');
  const want = crypto.createHmac('sha256', secret).update(buf).digest();
  const got = Buffer.from(hex, 'hex');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
    throw new SignatureError('bad signature');
  }
}

let events = 0;
let bad = 0;
const app = express();
app.use(express.json({ verify, limit: '1mb' }));

app.post('/webhook', (req, res) => {
  const body = req.body;
  if (!body || body.object !== 'page' || !Array.isArray(body.entry)) {
    res.sendStatus(400);
    return;
  }
  for (const entry of body.entry) {
    for (const ev of entry.messaging || []) {
      if (ev.message && ev.sender && ev.sender.id) events++;
    }
  }
  res.status(200).send('EVENT_RECEIVED');
});

app.get('/stats', (_req, res) => res.json({ events, bad }));

app.use((err, _req, res, _next) => {
  if (err instanceof SignatureError || (err && err.type === 'entity.verify.failed')) {
    bad++;
    res.sendStatus(403);
    return;
  }
  res.sendStatus(err && err.status ? err.status : 500);
});

const server = app.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile, String(server.address().port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
