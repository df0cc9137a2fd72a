#include "sense_crc16.h"

#define CRC16_POLY 0x1021u

uint16_t sense_crc16_update(uint16_t crc, const uint8_t *data, size_t n_bytes) {
    size_t i;
    for (i = 0; i < n_bytes; i++) {
        uint8_t bit;
        crc = (uint16_t)(crc ^ ((uint16_t)data[i] << 8));
        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ CRC16_POLY) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t sense_crc16(const uint8_t *data, size_t n_bytes) { return sense_crc16_update(SENSE_CRC16_INIT, data, n_bytes); }
