// Drives kafkajs against a broker (the golden-bytes fake broker of scripts/capture-golden.py,
// or floe itself) with fixed content, so the request frames it sends are reproducible.
//
// usage: node kafkajs-golden.js <host:port> produce <none|gzip|snappy>
//        node kafkajs-golden.js <host:port> group
// Records: keys "key-0".."key-2", values "value-0".."value-2", header h1=v1, topic "golden",
// partition 0. The group run subscribes "golden-group" to "golden" and stops after the first
// empty fetch (or when the caller's timeout kills it).
'use strict';
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');

const [broker, mode, codec] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'golden-kafkajs',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
});

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy };

async function produce() {
  if (codec === 'snappy') {
    CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [0, 1, 2].map((i) => ({
    key: `key-${i}`, value: `value-${i}`, partition: 0, headers: { h1: 'v1' }, timestamp: '1700000000000',
  }));
  await producer.send({ topic: 'golden', acks: -1, timeout: 30000, compression: codecs[codec], messages });
  await producer.disconnect();
}

async function group() {
  const consumer = kafka.consumer({ groupId: 'golden-group', sessionTimeout: 30000, heartbeatInterval: 500,
    maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: ['golden'], fromBeginning: true });
  let fetches = 0;
  consumer.on(consumer.events.FETCH, () => { fetches += 1; });
  await consumer.run({ eachMessage: async () => {} });
  const deadline = Date.now() + 10000;
  while (fetches < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.commitOffsets([{ topic: 'golden', partition: 0, offset: '3' }]).catch(() => {});
  await consumer.disconnect();
}

(mode === 'produce' ? produce() : group()).then(
  () => process.exit(0),
  (err) => { console.error(err); process.exit(1); });
