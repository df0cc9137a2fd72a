#include "sense_frame.h"

#include <string.h>

#include "sense_crc16.h"
#include "sense_protocol.h"

#define CRC_BYTES 2u

void sense_parser_init(sense_parser *parser) { memset(parser, 0, sizeof(*parser)); }

static sense_parse_result finish(sense_parser *parser, sense_frame *frame) {
    long decoded = sense_cobs_decode(parser->buf, parser->len, parser->buf, SENSE_MAX_FRAME);
    uint16_t crc_wire, crc_computed;
    if (decoded < (long)SENSE_FRAME_MIN) {
        parser->framing_errors++;
        return SENSE_PARSE_FRAMING_ERROR;
    }
    crc_wire = (uint16_t)(parser->buf[decoded - 2] | ((uint16_t)parser->buf[decoded - 1] << 8));
    crc_computed = sense_crc16(parser->buf, (size_t)decoded - CRC_BYTES);
    if (crc_wire != crc_computed) {
        parser->crc_errors++;
        return SENSE_PARSE_CRC_ERROR;
    }
    frame->type = parser->buf[0];
    frame->body = parser->buf + 1;
    frame->body_len = (uint16_t)(decoded - 1 - (long)CRC_BYTES);
    return SENSE_PARSE_FRAME;
}

sense_parse_result sense_parser_feed(sense_parser *parser, uint8_t byte, sense_frame *frame) {
    sense_parse_result result = SENSE_PARSE_NONE;
    if (byte != 0) {
        if (parser->len < sizeof(parser->buf)) {
            parser->buf[parser->len++] = byte;
        } else {
            parser->overflow = 1;
        }
        return SENSE_PARSE_NONE;
    }
    if (parser->overflow) {
        parser->framing_errors++;
        result = SENSE_PARSE_FRAMING_ERROR;
    } else if (parser->len > 0) {
        result = finish(parser, frame);
    }
    parser->len = 0;
    parser->overflow = 0;
    return result;
}

size_t sense_frame_encode(uint8_t type, const uint8_t *body, size_t body_len, uint8_t *payload_scratch, uint8_t *out) {
    uint16_t crc;
    size_t n;
    payload_scratch[0] = type;
    if (body_len > 0) {
        memcpy(payload_scratch + 1, body, body_len);
    }
    crc = sense_crc16(payload_scratch, body_len + 1);
    payload_scratch[body_len + 1] = (uint8_t)(crc & 0xFFu);
    payload_scratch[body_len + 2] = (uint8_t)(crc >> 8);
    n = sense_cobs_encode(payload_scratch, body_len + 3, out);
    out[n] = 0;
    return n + 1;
}
