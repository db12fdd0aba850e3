// SPDX-License-Identifier: GPL-2.0-only
// Runs s3rver (npm) for rcache's tests; started by s3rver.sh.
//   node s3rver-run.js ADDRESS PORT DATA_DIR [BUCKET...]
// s3rver itself never checks a SigV4 signature, but it refuses every access
// key id except its built-in S3RVER.  Unless S3RVER_ANY_KEY=0, any key id is
// taken as that account, so credentials made up by a test (profiles, session
// tokens, keys from s3proxy's STS stub) reach it.  S3RVER_VERBOSE=1 logs each
// request.
'use strict';
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const [address, port, directory, ...buckets] = process.argv.slice(2);
if (!address || !port || !directory) {
	console.error('usage: s3rver-run.js ADDRESS PORT DATA_DIR [BUCKET...]');
	process.exit(2);
}
if (process.env.S3RVER_ANY_KEY !== '0') {
	const reg = AWSAccount.registry;
	const get = reg.get.bind(reg);
	reg.get = (id) => get(id) || AWSAccount.DUMMY_ACCOUNT;
}
const server = new S3rver({
	address,
	port: Number(port),
	directory,
	silent: process.env.S3RVER_VERBOSE !== '1',
	allowMismatchedSignatures: true,
	configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
server.run().then(
	(where) => console.log(`s3rver listening on http://${where.address}:${where.port} data ${directory}`),
	(err) => {
		console.error(`s3rver: ${err.message}`);
		process.exit(1);
	},
);
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => server.close().then(() => process.exit(0), () => process.exit(1)));
}
