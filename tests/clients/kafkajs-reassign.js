// kafkajs 2 admin reassignment against a floe cluster, driven by tests/integration/test_multibroker.py.
//
// usage: node kafkajs-reassign.js <host:port[,host:port...]> <topic> <partition> <target broker> <other broker>
//   - alterPartitionReassignments with two replicas [target, other]: must fail with
//     INVALID_REPLICA_ASSIGNMENT (floe keeps one copy);
//   - alterPartitionReassignments [target]: succeeds;
//   - listPartitionReassignments until the move is finished (the partition no longer listed;
//     while listed, adding = [target]); at most 30 s;
//   - fetchTopicMetadata: the partition's leader is <target>.
// Prints one line "OK <what>" per check; exits 1 with "FAIL <why>" on the first failure.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [broker, topic, partitionArg, targetArg, otherArg] = process.argv.slice(2);
const partition = Number(partitionArg);
const target = Number(targetArg);
const other = Number(otherArg);
const kafka = new Kafka({
  clientId: 'floe-it-kafkajs-reassign',
  brokers: broker.split(','),
  logLevel: logLevel.ERROR,
  retry: { retries: 5, initialRetryTime: 100 },
  connectionTimeout: 5000,
  requestTimeout: 20000,
});

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log(`OK ${what.split(':')[0]}`);
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let error = null;
    try {
      await admin.alterPartitionReassignments({
        topics: [{ topic, partitionAssignment: [{ partition, replicas: [target, other] }] }],
      });
    } catch (e) {
      error = e;
    }
    const types = error ? (error.errors || [error]).map((e) => e.type) : [];
    check(types.includes('INVALID_REPLICA_ASSIGNMENT'),
      `two replicas are refused with INVALID_REPLICA_ASSIGNMENT: got ${error ? error.message + ' ' + types : 'success'}`);

    await admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition, replicas: [target] }] }] });
    check(true, 'alterPartitionReassignments to one broker succeeds');

    const deadline = Date.now() + 30000;
    let seenInProgress = false;
    for (;;) {
      let listed;
      try {
        listed = await admin.listPartitionReassignments({ topics: [{ topic, partitions: [partition] }] });
      } catch (e) {
        // kafkajs refreshes Metadata first, which names no leader while the new one opens the
        // partition (LEADER_NOT_AVAILABLE, wrapped once kafkajs's own retries ran out): ask again
        // until the deadline.
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const ours = (listed.topics || []).flatMap((t) => t.partitions.map((p) => ({ ...p, topic: t.name })))
        .filter((p) => p.topic === topic && p.partition === partition);
      if (ours.length === 0) break;
      seenInProgress = true;
      check(JSON.stringify(ours[0].addingReplicas) === JSON.stringify([target]),
        `an ongoing move adds the target: ${JSON.stringify(ours[0])}`);
      if (Date.now() > deadline) throw new Error(`the move is still in progress after 30 s: ${JSON.stringify(ours)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    check(true, `listPartitionReassignments shows the move finished (seen in progress: ${seenInProgress})`);

    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = md.topics[0].partitions.find((x) => x.partitionId === partition);
    check(p && p.leader === target, `Metadata names the new leader: ${JSON.stringify(p)}`);
  } finally {
    await admin.disconnect();
  }
}

main().then(() => process.exit(0)).catch((e) => {
  console.log(`FAIL ${e.message}`);
  process.exit(1);
});
