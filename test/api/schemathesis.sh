#!/usr/bin/env bash
# Runs schemathesis against a real flowpool API: builds the tree, starts a
# throwaway PostgreSQL and Redis, serves `runApi` on a free local port and
# points schemathesis at its /openapi.json with every check enabled.
#
#   test/api/schemathesis.sh [extra schemathesis options]
#
# Not part of `npm test`: it needs schemathesis (pip install schemathesis; or
# set SCHEMATHESIS to its path) and takes a minute or two. Exits 0 without
# running when schemathesis is missing. MAX_EXAMPLES (default 100) sets the
# examples per operation.
set -euo pipefail
cd "$(dirname "$0")/../.."

st="${SCHEMATHESIS:-schemathesis}"
if ! command -v "$st" >/dev/null 2>&1; then
  echo "schemathesis is not installed (pip install schemathesis); not running"
  exit 0
fi

npm run -s build >/dev/null
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
launcher="dist/.schemathesis-serve.mjs"
cat >"$launcher" <<'JS'
import knexFactory from 'knex';
import { migrateLatest } from './migrations/index.js';
import { runApi } from './api/main.js';
import { PostgresServer } from './local/postgres-server.js';
import { RedisServer } from './local/redis-server.js';

const [postgres, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
const knex = knexFactory({ client: 'pg', connection: postgres.url });
await migrateLatest(knex);
await knex.destroy();
await runApi(
  {
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    PORT: process.env.PORT,
    LOG_LEVEL: 'warn',
    FLOWPOOL_API_TOKENS: JSON.stringify({
      'schemathesis-token-1': 'acme',
      'schemathesis-token-2': 'globex',
    }),
  },
  async (code) => {
    await Promise.all([postgres.destroy(), redis.destroy()]);
    process.exit(code);
  },
);
JS

PORT="$port" node "$launcher" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$launcher"' EXIT

for _ in $(seq 1 120); do
  if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

"$st" run "http://127.0.0.1:$port/openapi.json" \
  -H 'Authorization: Bearer schemathesis-token-1' \
  --checks all \
  --max-examples "${MAX_EXAMPLES:-100}" \
  --workers 2 \
  "$@"
