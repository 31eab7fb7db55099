/* A stand-in for an old ONNX Runtime library (1.17.3), for the test that a
 * library too old for the engine is refused with its version: it exports
 * OrtGetApiBase, whose GetVersionString says 1.17.3 and whose GetApi knows
 * no API version. Compiled by engine/tests/cli.rs with the system's C
 * compiler; never shipped. */
#ifdef _WIN32
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

typedef struct {
    const void *(*GetApi)(unsigned int version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

static const void *get_api(unsigned int version) { (void)version; return 0; }
static const char *version_string(void) { return "1.17.3"; }
static const OrtApiBase base = { get_api, version_string };

EXPORT const OrtApiBase *OrtGetApiBase(void) { return &base; }
