// The unmodified nats.ws (WebSocket) and nats (TCP) npm packages against a
// Murmur broker started by transport/ws/js_test.go, which passes its URLs
// in WS_URL (ws://host:port) and NATS_URL (nats://host:port).
// Run: node --experimental-websocket --test node.test.mjs
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect as wsConnect, headers, StringCodec, Empty, ErrorCode } from "nats.ws";
import { connect as tcpConnect } from "nats";

const wsURL = process.env.WS_URL;
const natsURL = process.env.NATS_URL;
assert.ok(wsURL && natsURL, "WS_URL and NATS_URL must be set");
const sc = StringCodec();
const opened = [];

async function ws() {
  const nc = await wsConnect({ servers: wsURL, maxReconnectAttempts: 0 });
  opened.push(nc);
  return nc;
}

after(async () => {
  for (const nc of opened) {
    if (!nc.isClosed()) await nc.close();
  }
});

// collect returns the first n messages of sub.
async function collect(sub, n) {
  const out = [];
  for await (const m of sub) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

test("pub/sub in order", async () => {
  const a = await ws();
  const b = await ws();
  const sub = b.subscribe("order", { max: 500 });
  await b.flush();
  for (let i = 0; i < 500; i++) a.publish("order", sc.encode(String(i)));
  const got = await collect(sub, 500);
  assert.deepEqual(got.map((m) => sc.decode(m.data)), [...Array(500).keys()].map(String));
});

test("wildcards", async () => {
  const nc = await ws();
  const star = nc.subscribe("w.*.x", { max: 1 });
  const gt = nc.subscribe("w.>", { max: 2 });
  await nc.flush();
  nc.publish("w.a.x", sc.encode("1"));
  nc.publish("w.b.c.d", sc.encode("2"));
  assert.deepEqual((await collect(star, 1)).map((m) => m.subject), ["w.a.x"]);
  assert.deepEqual((await collect(gt, 2)).map((m) => m.subject), ["w.a.x", "w.b.c.d"]);
});

test("queue groups", async () => {
  const nc = await ws();
  const counts = [0, 0];
  const subs = [0, 1].map((i) => nc.subscribe("q", { queue: "workers", callback: () => counts[i]++ }));
  await nc.flush();
  for (let i = 0; i < 200; i++) nc.publish("q", Empty);
  await nc.flush();
  await nc.flush();
  assert.equal(counts[0] + counts[1], 200);
  assert.ok(counts[0] > 0 && counts[1] > 0, `both members get some: ${counts}`);
  subs.forEach((s) => s.unsubscribe());
});

test("request/reply with a TCP responder", async () => {
  const tcp = await tcpConnect({ servers: natsURL });
  try {
    tcp.subscribe("svc.echo", { callback: (_, m) => m.respond(sc.encode("tcp says " + sc.decode(m.data))) });
    await tcp.flush();
    const nc = await ws();
    const r = await nc.request("svc.echo", sc.encode("hi"), { timeout: 5000 });
    assert.equal(sc.decode(r.data), "tcp says hi");
  } finally {
    await tcp.close();
  }
});

test("headers", async () => {
  const nc = await ws();
  const sub = nc.subscribe("h", { max: 1 });
  await nc.flush();
  const h = headers();
  h.set("X-Murmur", "yes");
  h.append("X-Murmur", "twice");
  nc.publish("h", sc.encode("body"), { headers: h });
  const [m] = await collect(sub, 1);
  assert.deepEqual(m.headers.values("X-Murmur"), ["yes", "twice"]);
  assert.equal(sc.decode(m.data), "body");
});

test("no responders is 503", async () => {
  const nc = await ws();
  await assert.rejects(nc.request("nobody.home", Empty, { timeout: 5000 }), (e) => e.code === ErrorCode.NoResponders && e.code === "503");
});

test("900 KB payload", async () => {
  const nc = await ws();
  const big = new Uint8Array(900 * 1024).map((_, i) => i % 251);
  const sub = nc.subscribe("big", { max: 1 });
  await nc.flush();
  nc.publish("big", big);
  const [m] = await collect(sub, 1);
  assert.equal(m.data.length, big.length);
  assert.ok(m.data.every((b, i) => b === big[i]));
});

test("max_payload refused", async () => {
  const nc = await ws();
  assert.ok(nc.info.max_payload > 0);
  assert.throws(() => nc.publish("too.big", new Uint8Array(nc.info.max_payload + 1)), /max_payload|MAX_PAYLOAD/i);
  // The server refuses what the client did not check: a raw peer's PUB.
  const got = await rawSession([`PUB x ${nc.info.max_payload + 1}\r\n`]);
  assert.match(got, /-ERR 'Maximum Payload Violation'/);
});

// rawSession opens a WebSocket with Node's own client and, once INFO has
// arrived (the server speaks first, as over TCP), sends each string as one
// binary frame; it returns all it received until the server closes or
// until(received) holds.
function rawSession(frames, until) {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(wsURL);
    sock.binaryType = "arraybuffer";
    let got = "";
    const timer = setTimeout(() => { sock.close(); reject(new Error("timeout; got " + JSON.stringify(got))); }, 5000);
    sock.onmessage = (e) => {
      const first = got === "";
      got += new TextDecoder().decode(e.data);
      if (first) frames.forEach((f) => sock.send(new TextEncoder().encode(f)));
      if (until && until(got)) { clearTimeout(timer); sock.close(); resolve(got); }
    };
    sock.onclose = () => { clearTimeout(timer); resolve(got); };
    sock.onerror = () => {};
  });
}

test("raw WebSocket: ops split across frames and packed into one", async () => {
  const frames = [
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSU",
    "B raw 1\r\nPUB raw 5\r\nhe", "llo\r\n",
    "PUB raw 3\r\none\r\nPUB raw 3\r\ntwo\r\nPING\r\n",
  ];
  const got = await rawSession(frames, (s) => s.includes("PONG\r\n"));
  const msgs = [...got.matchAll(/MSG raw 1 (\d+)\r\n([^\r]*)\r\n/g)].map((m) => m[2]);
  assert.deepEqual(msgs, ["hello", "one", "two"]);
});
