/* The byte-stream frame parser ("feed bytes, get frames") and the frame encoder. Pure: no I/O, no globals. */
#ifndef SENSE_FRAME_H
#define SENSE_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "sense_cobs.h"
#include "sense_config.h"

#define SENSE_RX_ENCODED_MAX SENSE_COBS_MAX_ENCODED(SENSE_MAX_FRAME)

typedef struct {
    uint8_t type;
    const uint8_t *body; /* points into the parser's buffer: valid until the next feed */
    uint16_t body_len;
} sense_frame;

typedef enum {
    SENSE_PARSE_NONE = 0,     /* byte consumed, no frame complete */
    SENSE_PARSE_FRAME,        /* a valid frame is in *frame */
    SENSE_PARSE_CRC_ERROR,    /* a frame was dropped: CRC mismatch */
    SENSE_PARSE_FRAMING_ERROR /* a frame was dropped: bad COBS, too long or too short */
} sense_parse_result;

typedef struct {
    uint8_t buf[SENSE_RX_ENCODED_MAX];
    uint16_t len;
    uint8_t overflow;
    uint32_t crc_errors;
    uint32_t framing_errors;
} sense_parser;

void sense_parser_init(sense_parser *parser);
sense_parse_result sense_parser_feed(sense_parser *parser, uint8_t byte, sense_frame *frame);

/* Encode type | body | crc16 LE as COBS + 0x00 into out (capacity >= SENSE_COBS_MAX_ENCODED(body_len + 3) + 1).
 * payload_scratch must hold body_len + 3 bytes (it may alias nothing else). Returns the wire length. */
size_t sense_frame_encode(uint8_t type, const uint8_t *body, size_t body_len, uint8_t *payload_scratch, uint8_t *out);

#endif
