// SPDX-License-Identifier: MIT
// Acceptance test: the messaging-api-messenger client (what a Node.js sender would use) talks to
// loa-graph exactly as it would to graph.facebook.com. It sends a text and a product card and
// gets message ids back, reads a profile, sends a Graph batch, and gets Meta's outside-window
// error (code 10, subcode 2018278) once the fake clock has moved past the 24 h window.
//
// messaging-api-messenger@1.1.0 sends messaging_type UPDATE when no option is given (Meta has
// required messaging_type since 2018-05-07); the test checks that from loa-graph's log.
// Run by ctest (emu_messenger_client) after `npm ci` in tests/node.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { MessengerClient, MessengerBatch } = require('messaging-api-messenger');
const { start } = require('./support/loa-graph');

const NOW = '2026-05-04T09:00:00Z';

async function graphWithShop() {
  const g = await start(['--clock', 'fake', '--now', NOW]);
  let r = await g.admin.post('pages', { id: '2001', name: 'Cửa hàng Lan', access_token: 'PAGE_TOKEN' });
  assert.equal(r.status, 201, r.text);
  r = await g.admin.post('people', {
    people: [
      { page_id: '2001', psid: 'psid-in', first_name: 'Lan', last_name: 'Nguyễn', gender: 'female', locale: 'vi_VN', timezone: 7, last_action_at: '2026-05-04T08:30:00Z', last_action_kind: 'message' },
      { page_id: '2001', psid: 'psid-old', first_name: 'Minh', last_action_at: '2026-05-01T08:00:00Z', last_action_kind: 'message' },
    ],
  });
  assert.equal(r.status, 201, r.text);
  const client = new MessengerClient({ accessToken: 'PAGE_TOKEN', version: '19.0', origin: g.base });
  return { g, client };
}

function graphError(err) {
  const data = err.response && err.response.data && err.response.data.error;
  assert.ok(data, `expected a Graph error, got ${err}`);
  // the client camel-cases response keys
  return { code: data.code, subcode: data.errorSubcode ?? data.error_subcode, message: err.message };
}

test('sendText and sendGenericTemplate get message ids back', async () => {
  const { g, client } = await graphWithShop();
  try {
    const sent = await client.sendText('psid-in', 'Xin chào Lan! Đơn hàng #1234 đã được giao.');
    assert.equal(sent.recipientId, 'psid-in');
    assert.match(sent.messageId, /^m_/);

    const card = await client.sendGenericTemplate('psid-in', [
      {
        title: 'Áo thun cotton',
        imageUrl: 'https://example.com/ao.jpg',
        subtitle: '199.000đ — còn 3 cái',
        defaultAction: { type: 'web_url', url: 'https://example.com/ao' },
        buttons: [
          { type: 'web_url', url: 'https://example.com/ao', title: 'Xem' },
          { type: 'postback', title: 'Mua ngay', payload: 'BUY_AO_1' },
        ],
      },
    ]);
    assert.equal(card.recipientId, 'psid-in');
    assert.match(card.messageId, /^m_/);
    assert.notEqual(card.messageId, sent.messageId);

    // What the client really sent, as loa-graph logged it
    const log = (await g.admin.get('log?page_id=2001')).json.messages;
    assert.equal(log.length, 2);
    assert.equal(log[0].mid, sent.messageId);
    assert.equal(log[0].messaging_type, 'UPDATE', 'the client defaults to messaging_type UPDATE');
    assert.equal(log[1].body.message.attachment.payload.template_type, 'generic');
    assert.equal(log[1].body.message.attachment.payload.elements[0].buttons[1].payload, 'BUY_AO_1');

    const response = await client.sendText('psid-in', 'Cảm ơn!', { messagingType: 'RESPONSE' });
    assert.match(response.messageId, /^m_/);

    const profile = await client.getUserProfile('psid-in');
    assert.equal(profile.firstName, 'Lan');
    assert.equal(profile.lastName, 'Nguyễn');
    assert.equal(profile.id, 'psid-in');

    const batch = await client.sendBatch([
      MessengerBatch.sendText('psid-in', 'một'),
      MessengerBatch.sendText('psid-in', 'hai'),
    ]);
    assert.equal(batch.length, 2);
    for (const item of batch) {
      assert.equal(item.code, 200);
      assert.match(item.body.messageId, /^m_/);
    }

    const stats = (await g.admin.get('stats')).json;
    assert.equal(stats.accepted, 5);
    assert.equal(stats.violations, 0);
  } finally {
    await g.stop();
  }
});

test('outside the window: code 10, subcode 2018278', async () => {
  const { g, client } = await graphWithShop();
  try {
    // psid-old last wrote three days ago
    await assert.rejects(client.sendText('psid-old', 'Khuyến mãi!'), (err) => {
      const e = graphError(err);
      assert.equal(e.code, 10);
      assert.equal(e.subcode, 2018278);
      assert.match(e.message, /Messenger API - 10 OAuthException/);
      return true;
    });
    // psid-in is inside the window now; 25 hours later it is not
    await client.sendText('psid-in', 'Trong 24 giờ');
    const r = await g.admin.post('clock', { advance_ms: 25 * 3600 * 1000 });
    assert.equal(r.status, 200, r.text);
    await assert.rejects(client.sendText('psid-in', 'Quá 24 giờ'), (err) => {
      const e = graphError(err);
      assert.equal(e.code, 10);
      assert.equal(e.subcode, 2018278);
      return true;
    });
    // a HUMAN_AGENT reply within 7 days is still allowed
    const human = await client.sendText('psid-in', 'Nhân viên trả lời', { tag: 'HUMAN_AGENT' });
    assert.match(human.messageId, /^m_/);

    const stats = (await g.admin.get('stats')).json;
    assert.equal(stats.accepted, 2);
    assert.equal(stats.violations, 2);
    assert.equal(stats.violations_by_rule.window, 2);
  } finally {
    await g.stop();
  }
});
