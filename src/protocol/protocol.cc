// placeholder: replaced by the generated codecs
namespace floe::protocol {}
