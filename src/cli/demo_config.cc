#include "cli/demo_config.h"

namespace gh::cli {

std::string demo_config_yaml(const std::string& listen, const std::string& app, unsigned workers) {
  return "server: { workers: " + std::to_string(workers) + " }\n"
         "listen:\n  - address: " + listen + "\n"
         "upstreams:\n  app: { servers: [" + app + "] }\n"
         "routes:\n"
         "  - name: signup\n"
         "    match: { path_prefix: /signup }\n"
         "    class: signup\n"
         "    limits:\n"
         "      - { name: signup-per-prefix, key: [client.prefix], rate: 10/min, burst: 5 }\n"
         "      - { name: signup-total, key: [], rate: 120/min }\n"
         "  - name: login\n"
         "    match: { path: /login, methods: [POST] }\n"
         "    class: login\n"
         "    limits:\n"
         "      - name: login-failures-per-account\n"
         "        key: [body.username]\n"
         "        rate: 5/15min\n"
         "        count_when: { status: [401] }\n"
         "      - { name: login-per-ip, key: [client.ip], rate: 30/min }\n"
         "  - name: app\n"
         "bans: { journal: var/bans.journal }\n";
}

}  // namespace gh::cli
