// The fleet's Redis as the pipeline's shared store (gate/store.h): a solved challenge's claim is
// a SET NX PX GET of its id, exact limits one GCRA script over their keys. Questions go through
// Fleet::ask (the fleet's thread and cluster client); answers come back on that thread.
#pragma once

#include <memory>

#include "gate/store.h"

namespace gh::fleet {
class Fleet;
}

namespace gh::proxy {

std::unique_ptr<gate::SharedStore> make_fleet_store(fleet::Fleet& fleet);

}  // namespace gh::proxy
