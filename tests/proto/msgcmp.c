#include "msgcmp.h"

#include <stdio.h>
#include <string.h>

static bool str_same(struct proto_str a, struct proto_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool differ(char *why, size_t whylen, const char *type, const char *field)
{
    snprintf(why, whylen, "%s.%s differs", type, field);
    return false;
}

#define SAME_INT(m, f) \
    if (a->u.m.f != b->u.m.f) \
        return differ(why, whylen, #m, #f)
#define SAME_STR(m, f) \
    if (!str_same(a->u.m.f, b->u.m.f)) \
        return differ(why, whylen, #m, #f)

bool msgcmp_equal(const struct proto_msg *a, const struct proto_msg *b,
                  char *why, size_t whylen)
{
    if (a->type != b->type) {
        snprintf(why, whylen, "type %s differs from %s", proto_type_name(a->type),
                 proto_type_name(b->type));
        return false;
    }
    switch (a->type) {
    case PROTO_HELLO:
        SAME_INT(hello, features);
        break;
    case PROTO_READY:
        SAME_STR(ready, python);
        SAME_INT(ready, pid);
        SAME_STR(ready, sandbox);
        break;
    case PROTO_EXEC:
        SAME_INT(exec, id);
        SAME_STR(exec, source);
        SAME_INT(exec, mode);
        SAME_INT(exec, output_cap);
        SAME_INT(exec, rich);
        SAME_INT(exec, silent);
        break;
    case PROTO_OUTPUT:
        SAME_INT(output, has_id);
        if (a->u.output.has_id)
            SAME_INT(output, id);
        SAME_INT(output, stream);
        SAME_STR(output, text);
        SAME_INT(output, has_origin);
        if (a->u.output.has_origin)
            SAME_INT(output, origin);
        break;
    case PROTO_RESULT:
        SAME_INT(result, id);
        SAME_INT(result, status);
        SAME_STR(result, display);
        SAME_INT(result, exit_code);
        SAME_STR(result, ps1);
        SAME_STR(result, ps2);
        SAME_STR(result, value);
        SAME_STR(result, error_type);
        SAME_STR(result, error_message);
        SAME_STR(result, traceback);
        SAME_INT(result, compile_error);
        SAME_STR(result, denied);
        SAME_INT(result, cpu_us);
        SAME_INT(result, max_rss_kb);
        break;
    case PROTO_COMPLETE:
        SAME_INT(complete, id);
        SAME_STR(complete, code);
        SAME_INT(complete, cursor);
        break;
    case PROTO_COMPLETIONS:
        SAME_INT(completions, id);
        SAME_INT(completions, start);
        SAME_INT(completions, end);
        SAME_INT(completions, count);
        for (size_t i = 0; i < a->u.completions.count; i++)
            SAME_STR(completions, matches[i]);
        break;
    case PROTO_INPUT:
        SAME_INT(input, id);
        SAME_STR(input, prompt);
        SAME_INT(input, kind);
        break;
    case PROTO_INPUT_REPLY:
        SAME_INT(input_reply, id);
        SAME_INT(input_reply, eof);
        SAME_STR(input_reply, text);
        break;
    case PROTO_INTERRUPT_ACK:
        SAME_INT(interrupt_ack, id);
        break;
    case PROTO_DENIED:
        SAME_INT(denied, syscall);
        break;
    case PROTO_ERROR:
        SAME_STR(error, message);
        break;
    case PROTO_STARTED:
        SAME_INT(started, id);
        break;
    case PROTO_DISPLAY:
        SAME_INT(display, has_id);
        if (a->u.display.has_id)
            SAME_INT(display, id);
        SAME_STR(display, data);
        SAME_STR(display, metadata);
        SAME_STR(display, display_id);
        SAME_INT(display, update);
        SAME_INT(display, has_origin);
        if (a->u.display.has_origin)
            SAME_INT(display, origin);
        break;
    case PROTO_CLEAR_OUTPUT:
        SAME_INT(clear_output, has_id);
        if (a->u.clear_output.has_id)
            SAME_INT(clear_output, id);
        SAME_INT(clear_output, wait);
        SAME_INT(clear_output, has_origin);
        if (a->u.clear_output.has_origin)
            SAME_INT(clear_output, origin);
        break;
    case PROTO_INSPECT:
        SAME_INT(inspect, id);
        SAME_STR(inspect, code);
        SAME_INT(inspect, cursor);
        SAME_INT(inspect, detail);
        break;
    case PROTO_INSPECTION:
        SAME_INT(inspection, id);
        SAME_INT(inspection, found);
        SAME_STR(inspection, data);
        break;
    case PROTO_PAGE:
        SAME_INT(page, has_id);
        if (a->u.page.has_id)
            SAME_INT(page, id);
        SAME_STR(page, text);
        break;
    case PROTO_SHUTDOWN:
        break;
    case PROTO_CANCEL:
        SAME_INT(cancel, id);
        break;
    default:
        snprintf(why, whylen, "unknown type %d", (int)a->type);
        return false;
    }
    return true;
}
