// The layering tests' translation unit (CMakeLists.txt, gh_layering_probe): GH_PROBE names one
// header, and the probe is built against one module's include roots. Nothing here is run.
#include GH_PROBE
