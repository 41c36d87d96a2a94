// kafkajs 2 against a running floe, driven by tests/integration/test_kafka_kafkajs.py.
//
// usage: node kafkajs-interop.js <host:port> produce <topic> <partitions> <count>
//          admin: createTopics (and a duplicate: must report TOPIC_ALREADY_EXISTS), listTopics,
//          fetchTopicMetadata; producer (acks -1): <count> records, key k<i>, value v<i>, header n=<i>,
//          record i to partition i % partitions, in batches alternating none/gzip/snappy;
//          then fetchTopicOffsets must show every partition's high watermark = its record count.
//        node kafkajs-interop.js <host:port> group <topic> <partitions> <count> <groupId>
//          a group consumer reads from the beginning until <count> distinct records arrived (each
//          once, in order per partition), commits, disconnects; admin.fetchOffsets must equal the
//          high watermarks; describeGroups / listGroups show the group.
// Prints one line "OK <what>" per check; exits 1 with "FAIL <why>" on the first failure.
'use strict';
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');

const [broker, mode, topic, partitionsArg, countArg, groupId] = process.argv.slice(2);
const partitions = Number(partitionsArg);
const count = Number(countArg);
const kafka = new Kafka({
  clientId: 'floe-it-kafkajs',
  brokers: [broker],
  logLevel: logLevel.ERROR,
  retry: { retries: 5, initialRetryTime: 100 },
  connectionTimeout: 5000,
  requestTimeout: 20000,
});

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log(`OK ${what.split(':')[0]}`);
}

async function produce() {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  check(created === true, `createTopics returns true for a new topic: got ${created}`);
  let dupError = null;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  } catch (e) {
    dupError = e;
  }
  // kafkajs resolves false for an already existing topic, or rejects with TOPIC_ALREADY_EXISTS.
  check(dupError === null || (dupError.type || '').includes('TOPIC_ALREADY_EXISTS') ||
        JSON.stringify(dupError.errors || '').includes('TOPIC_ALREADY_EXISTS'),
        `duplicate createTopics: ${dupError && dupError.message}`);
  const topics = await admin.listTopics();
  check(topics.includes(topic), `listTopics includes ${topic}: ${topics}`);
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  check(md.topics[0].partitions.length === partitions,
        `fetchTopicMetadata shows ${partitions} partitions: ${md.topics[0].partitions.length}`);

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const codecs = [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy];
  const batch = 250;
  for (let start = 0, b = 0; start < count; start += batch, b += 1) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + batch); i += 1) {
      messages.push({ key: `k${i}`, value: `v${i}`, partition: i % partitions, headers: { n: String(i) } });
    }
    const res = await producer.send({ topic, acks: -1, timeout: 20000, compression: codecs[b % codecs.length], messages });
    for (const r of res) {
      if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode} on partition ${r.partition}`);
    }
  }
  await producer.disconnect();
  console.log(`OK produced ${count} records (none/gzip/snappy batches)`);

  const offsets = await admin.fetchTopicOffsets(topic);
  for (const o of offsets) {
    const want = Math.floor(count / partitions) + (o.partition < count % partitions ? 1 : 0);
    check(Number(o.high) === want && Number(o.low) === 0,
          `fetchTopicOffsets partition ${o.partition}: [${o.low}, ${o.high}) want [0, ${want})`);
  }
  await admin.disconnect();
}

async function group() {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 100,
                                    retry: { retries: 3 } });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = new Map();
  const lastOffset = new Map();
  let failure = null;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ partition, message }) => {
      const key = message.key.toString();
      const i = Number(key.slice(1));
      if (seen.has(key)) failure = failure || `record ${key} consumed twice`;
      seen.set(key, true);
      if (message.value.toString() !== `v${i}`) failure = failure || `value of ${key}: ${message.value}`;
      if (message.headers.n.toString() !== String(i)) failure = failure || `header n of ${key}: ${message.headers.n}`;
      if (partition !== i % partitions) failure = failure || `${key} on partition ${partition}`;
      const off = Number(message.offset);
      if (off !== (lastOffset.has(partition) ? lastOffset.get(partition) + 1 : 0)) {
        failure = failure || `partition ${partition}: offset ${off} after ${lastOffset.get(partition)}`;
      }
      lastOffset.set(partition, off);
      if (seen.size === count || failure) resolveDone();
    },
  });
  const timer = setTimeout(() => resolveDone(), 30000);
  await done;
  clearTimeout(timer);
  if (failure) throw new Error(failure);
  check(seen.size === count, `group consumer read ${count} distinct records: ${seen.size}`);
  await consumer.commitOffsets([...lastOffset.entries()].map(([p, o]) => ({ topic, partition: p, offset: String(o + 1) })));
  await consumer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const high = await admin.fetchTopicOffsets(topic);
  const want = Object.fromEntries(high.map((o) => [o.partition, String(o.high)]));
  const got = Object.fromEntries(committed[0].partitions.map((p) => [p.partition, String(p.offset)]));
  check(JSON.stringify(got) === JSON.stringify(want),
        `committed offsets equal high watermarks: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  const groups = await admin.listGroups();
  check(groups.groups.some((g) => g.groupId === groupId), `listGroups shows ${groupId}: ${JSON.stringify(groups)}`);
  const desc = await admin.describeGroups([groupId]);
  check(desc.groups[0].groupId === groupId && desc.groups[0].state === 'Empty',
        `describeGroups: ${groupId} is Empty after the member left: ${desc.groups[0].state}`);
  await admin.disconnect();
}

(mode === 'produce' ? produce() : group()).then(
  () => process.exit(0),
  (e) => { console.log(`FAIL ${e && e.stack ? e.stack : e}`); process.exit(1); },
);
