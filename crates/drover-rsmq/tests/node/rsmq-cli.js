// Drives the npm rsmq client for the interoperability tests. One JSON command as the first
// argument; one JSON result on standard output. Needs `rsmq` on NODE_PATH.
//
//   {"op":"create", "conn":{...}, "qname":"q", "vt":30, "delay":0, "maxsize":65536}
//   {"op":"send", "conn":{...}, "qname":"q", "messages":["..."], "delay":0}   -> ["id", ...]
//   {"op":"receive", "conn":{...}, "qname":"q", "max":10, "vt":30, "delete":true}
//        -> [{"id","message","rc","fr","sent"}, ...] (stops at the first empty receive)
//   {"op":"attributes", "conn":{...}, "qname":"q"}  -> getQueueAttributes
//   {"op":"listQueues", "conn":{...}}                -> ["q", ...]
// conn: {"host","port","password","ns","realtime"}.
"use strict";
const RedisSMQ = require("rsmq");

async function main() {
  const cmd = JSON.parse(process.argv[2]);
  const c = cmd.conn;
  const rsmq = new RedisSMQ({
    host: c.host,
    port: c.port,
    password: c.password || undefined,
    ns: c.ns,
    realtime: !!c.realtime,
  });
  try {
    let result;
    switch (cmd.op) {
      case "create":
        result = await rsmq.createQueueAsync({ qname: cmd.qname, vt: cmd.vt, delay: cmd.delay, maxsize: cmd.maxsize });
        break;
      case "send": {
        result = [];
        for (const message of cmd.messages) {
          const options = { qname: cmd.qname, message };
          if (cmd.delay != null) options.delay = cmd.delay;
          result.push(await rsmq.sendMessageAsync(options));
        }
        break;
      }
      case "receive": {
        result = [];
        while (result.length < cmd.max) {
          const options = { qname: cmd.qname };
          if (cmd.vt != null) options.vt = cmd.vt;
          const msg = await rsmq.receiveMessageAsync(options);
          if (!msg.id) break;
          result.push(msg);
          if (cmd.delete) await rsmq.deleteMessageAsync({ qname: cmd.qname, id: msg.id });
        }
        break;
      }
      case "attributes":
        result = await rsmq.getQueueAttributesAsync({ qname: cmd.qname });
        break;
      case "listQueues":
        result = await rsmq.listQueuesAsync();
        break;
      default:
        throw new Error("unknown op " + cmd.op);
    }
    process.stdout.write(JSON.stringify(result));
  } finally {
    rsmq.quit();
  }
}

main().catch((err) => {
  process.stderr.write(String((err && (err.name + ": " + err.message)) || err) + "\n");
  process.exit(1);
});
