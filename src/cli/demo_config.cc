#include "cli/demo_config.h"

namespace gh::cli {

// The demo's policy is the one examples/signup-shield.yaml explains line by line; keep the two
// in step.
std::string demo_config_yaml(const std::string& listen, const std::string& app, unsigned workers,
                             const std::string& https, const std::string& cert,
                             const std::string& key) {
  const std::string tls_listener =
      https.empty() ? ""
                    : "  - address: " + https + "\n    http2: true\n    tls:\n      certificates:\n        - cert: \"" +
                          cert + "\"\n          key: \"" + key + "\"\n";
  return "server: { workers: " + std::to_string(workers) + " }\n"
         "listen:\n  - address: " + listen + "\n" + tls_listener +
         "upstreams:\n"
         "  app:\n"
         "    servers: [" + app + "]\n"
         "    admission: { min_limit: 2, max_limit: 64, resident_share: 30%, queue_timeout: 2s }\n"
         "reputation:\n"
         "  suspect_score: 30\n"
         "  rules:\n"
         "    - { name: scripted-client, user_agent: \"(?i)^(curl|wget|python-requests|go-http-client)\", weight: 20 }\n"
         "    - { name: refused-lately, recent_refusals: 20, weight: 40 }\n"
         "residents: { success_cookie: demo_session, success_location: /account }\n"
         "routes:\n"
         "  - name: signup\n"
         "    match: { path_prefix: /signup }\n"
         "    class: signup\n"
         "    signup:\n"
         "      mode: challenge\n"
         "      waiting_room: { new_users_per_minute: 120, max_active: 100, max_per_prefix: 5 }\n"
         "      triggers:\n"
         "        - { metric: upstream_latency, above: 2000, below: 500, for: 5s, hold: 60s, mode: queue }\n"
         "    limits:\n"
         "      - { name: signup-per-clearance, key: [clearance.id], rate: 5/min, burst: 3 }\n"
         "      - { name: signup-per-prefix, key: [client.prefix], rate: 10/hour, burst: 10 }\n"
         "  - name: login\n"
         "    match: { path: /login, methods: [POST] }\n"
         "    class: login\n"
         "    limits:\n"
         "      - name: login-failures-per-account\n"
         "        key: [body.username]\n"
         "        rate: 5/15min\n"
         "        count_when: { status: [401] }\n"
         "        classes: [suspect, anonymous, verified]\n"
         "      - { name: login-per-ip, key: [client.ip], rate: 30/min }\n"
         "  - name: app\n"
         "state_dir: var\n";  // the key, bans, events and access log, under the current directory
}

}  // namespace gh::cli
