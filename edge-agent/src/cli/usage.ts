export const USAGE = `tether-agent — bridge an edge site's MQTT hub to cloud MQTT endpoints

Usage:
  tether-agent --config bridge.yml [--hub-config hub.yml] [--data-dir DIR]
      Run the bridge (Baetyl-Remote-MQTT service.yml). With --hub-config, also run the
      embedded hub (Baetyl-Hub service.yml) in this process; the bridge then attaches to it
      without a socket.
  tether-agent hub --config hub.yml
      Run only the embedded hub.
  tether-agent reload [--data-dir DIR]
      Make the agent running on DIR re-read its config files (same as SIGHUP to it): what
      changed is applied without a restart, a config with problems is refused and the running
      one stays; log files are reopened. Exit 0 applied, 1 refused.
  tether-agent status [--data-dir DIR | --url http://HOST:PORT] [--json]
      Print the running agent's connections, queues and last errors (from its metrics
      listener's /status). Exit 0 when ready, 1 when not.
  tether-agent validate --config FILE [--hub-config FILE]
      Check config files; print every problem with its field path. Exit 0 or 2.
  tether-agent hash-password [--password TEXT]
      Print a scrypt hash for a hub principal's password (reads stdin without --password).
  tether-agent enroll --url URL --thing NAME --out DIR [--ca FILE] [--hub URL] [--rotate]
                      [--token-file FILE | --auth iam [--region REGION] [--profile NAME]]
                      [--hub-config FILE | --hub-username NAME --hub-password TEXT]
      Make this device's key and a CSR, have the provisioning function (tether-cloud serve, or the
      cloud's function URL) sign it, and write the bundle to DIR: run it with --config DIR. The key
      never leaves the device. --auth token (the default for other URLs): the enrollment token
      comes from --token-file or TETHER_ENROLL_TOKEN. --auth iam (the default for a function URL,
      https://ID.lambda-url.REGION.on.aws/): the request is signed with AWS SigV4 (service lambda)
      for --region, else the URL's region, else AWS_REGION; credentials come from the AWS default
      chain (environment, --profile or AWS_PROFILE, SSO, instance or container role), and the
      caller needs lambda:InvokeFunctionUrl and lambda:InvokeFunction (infra's EnrollPolicy).
      The bridge's login at the local hub goes into service.yml on the device (never sent): from
      --hub-username/--hub-password, or the principal of --hub-config (the one --hub-username
      names, or its only one with a password; a hashed password needs --hub-password).
  tether-agent deadletters list|requeue|drop [--id N ...] [--all] [--data-dir DIR]
      Messages set aside because their destination would not take them (queue.deadletter):
      list them, put them back at the end of their queue, or drop them (--id or --all). Works
      on a stopped agent's data dir; while the agent runs, the store is locked and this exits 1.
  tether-agent demo
      The quick start: embedded hub, a local TLS stand-in for the cloud, and the seed's rules.

Options:
  -c, --config FILE       bridge config (or hub config for \`hub\`), or a provisioning bundle folder
      --hub-config FILE   embedded hub config
      --data-dir DIR      where the agent keeps its state (default: ./var/lib/tether)
      --id N              deadletters: a dead letter id (repeatable)
      --all               deadletters drop: every dead letter
  -h, --help              show this help
  -v, --version           print the version

Exit codes: 0 ok, 1 runtime failure, 2 bad command line or config.`;
