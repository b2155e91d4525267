export const USAGE = `tether-cloud — provision things for tether-agent: endpoint, identity, policy and a bundle

Usage:
  tether-cloud provision --provider P --thing NAME --out DIR [policy] [provider options] [--csr FILE] [--dry-run]
      Create what the thing needs at the provider and write its bundle to DIR: bundle.json, service.yml,
      ca.pem, client.pem and client.key (0600; absent with --csr: the key stays on the device).
      Run the agent with it: tether-agent --config DIR [--hub-config hub.yml]
      Re-running for a provisioned thing changes nothing (use rotate).
  tether-cloud provision --provider P --batch devices.csv --out DIR [policy] [provider options]
      Provision many things (CSV with a header: thing[,publish][,subscribe]; filters separated by ";"),
      each bundle in DIR/<thing>/. Things that exist are skipped, so a re-run finishes an interrupted batch.
  tether-cloud rotate --provider P --thing NAME --out DIR [policy] [provider options] [--csr FILE]
      New credentials for a provisioned thing; the old ones are revoked (AWS: deactivated).
  tether-cloud revoke --provider P --thing NAME [provider options]
  tether-cloud describe --provider P --thing NAME [provider options]
  tether-cloud serve --provider local --ca-dir DIR --listen HOST:PORT [--endpoint URL] [policy] [--token-file FILE]
      The provisioning function as an HTTPS endpoint for self-hosted fleets (tether-agent enroll calls it).
      Callers present the fleet's enrollment token (--token-file, or TETHER_ENROLL_TOKEN) or a one-time token.
  tether-cloud token --ca-dir DIR --thing NAME [--ttl HOURS]
      Print a one-time enrollment token for one thing (default: valid 24 hours).

Policy (what the thing may do at the cloud; {thing} stands for its name):
      --allow-pub FILTER    a topic filter it may publish to (repeatable); it goes up from the hub
      --allow-sub FILTER    a topic filter it may subscribe to (repeatable); it comes down to the hub
      --policy FILE         YAML or JSON: { publish: [...], subscribe: [...] }

Bundle:
      --hub URL             the local hub service.yml connects to (default tcp://127.0.0.1:1883)
      --hub-username NAME, --hub-password TEXT   the hub principal the bridge logs in as
      --hub-config FILE     read the login (and the address) from the hub config the agent runs:
                            the principal --hub-username names, or its only one with a password

Providers:
  local          --ca-dir DIR (CA made on first use; broker kit: mosquitto -c DIR/mosquitto.conf)
                 --endpoint mqtts://HOST:PORT (first use; remembered)  --broker-user USER  --days N
  aws-iot        --region REGION (or AWS_REGION)  --api-url URL; credentials: the AWS SDK's default chain;
                 --aws-port 8883|443 (443: for networks that allow only HTTPS; the agent offers ALPN)
  baidu-iotcore  --iotcore-id ID  --region gz|bj (default gz)  --auth signature|certificate
                 --api-url URL (default https://iot.baidubce.com); credentials: BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY
  baidu-iothub   (deprecated by Baidu: use baidu-iotcore) --baidu-endpoint NAME  --auth password|certificate
                 --api-url URL (default https://iot.gz.baidubce.com); credentials: BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY

Other options:
      --concurrency N       things provisioned at once with --batch (default 4, at most 16)
      --listen HOST:PORT    where serve listens (HTTPS; its certificate is issued by the local CA)
  -h, --help, -v, --version

Exit codes: 0 ok, 1 a provider step failed (the message names it), 2 bad command line or input.`;
