#include "sense_crc16.h"

/* Nibble table of CRC-16/CCITT-FALSE (poly 0x1021): 32 bytes instead of 512, two lookups per byte. */
static const uint16_t CRC16_NIBBLE[16] = {0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
                                          0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF};

uint16_t sense_crc16_update(uint16_t crc, const uint8_t *data, size_t n_bytes) {
    size_t i;
    for (i = 0; i < n_bytes; i++) {
        crc = (uint16_t)((crc << 4) ^ CRC16_NIBBLE[((crc >> 12) ^ (data[i] >> 4)) & 0x0Fu]);
        crc = (uint16_t)((crc << 4) ^ CRC16_NIBBLE[((crc >> 12) ^ (data[i] & 0x0Fu)) & 0x0Fu]);
    }
    return crc;
}

uint16_t sense_crc16(const uint8_t *data, size_t n_bytes) { return sense_crc16_update(SENSE_CRC16_INIT, data, n_bytes); }
