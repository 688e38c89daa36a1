/*
 * GM/T 0018 SDF: the subset SealTrust uses (device, session, access right,
 * ECC signing-key export, internal SM2 signature, SM4 session keys under an
 * internal KEK with CBC encryption and CBC-MAC). Layouts follow the
 * SoftSDF / vendor headers; ECCref_MAX_LEN is 64 unless the build says 32.
 */
#ifndef SEALTRUST_SDF_H
#define SEALTRUST_SDF_H

#ifndef ECCref_MAX_BITS
#define ECCref_MAX_BITS 512
/* Symmetric keys under the device's internal key-encryption keys (data keys at rest). */
int SDF_GenerateKeyWithKEK(void *hSessionHandle, unsigned int uiKeyBits, unsigned int uiAlgID,
                           unsigned int uiKEKIndex, unsigned char *pucKey,
                           unsigned int *puiKeyLength, void **phKeyHandle);
int SDF_ImportKeyWithKEK(void *hSessionHandle, unsigned int uiAlgID, unsigned int uiKEKIndex,
                         unsigned char *pucKey, unsigned int uiKeyLength, void **phKeyHandle);
int SDF_DestroyKey(void *hSessionHandle, void *hKeyHandle);
int SDF_Encrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                unsigned char *pucEncData, unsigned int *puiEncDataLength);
int SDF_Decrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucEncData, unsigned int uiEncDataLength,
                unsigned char *pucData, unsigned int *puiDataLength);
int SDF_CalculateMAC(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                     unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                     unsigned char *pucMAC, unsigned int *puiMACLength);

#endif
#define ECCref_MAX_LEN ((ECCref_MAX_BITS + 7) / 8)

typedef struct ECCrefPublicKey_st {
    unsigned int bits;
    unsigned char x[ECCref_MAX_LEN];
    unsigned char y[ECCref_MAX_LEN];
} ECCrefPublicKey;

typedef struct ECCSignature_st {
    unsigned char r[ECCref_MAX_LEN];
    unsigned char s[ECCref_MAX_LEN];
} ECCSignature;

#define SGD_SM4_ECB 0x00000401
#define SGD_SM4_CBC 0x00000402
#define SGD_SM4_MAC 0x00000410
#define SGD_SM3   0x00000001
#define SGD_SM2   0x00020100
#define SGD_SM2_1 0x00020200

#define SDR_OK               0x0
#define SDR_BASE             0x01000000
#define SDR_UNKNOWERR        (SDR_BASE + 0x00000001)
#define SDR_NOTSUPPORT       (SDR_BASE + 0x00000002)
#define SDR_COMMFAIL         (SDR_BASE + 0x00000003)
#define SDR_HARDFAIL         (SDR_BASE + 0x00000004)
#define SDR_OPENDEVICE       (SDR_BASE + 0x00000005)
#define SDR_OPENSESSION      (SDR_BASE + 0x00000006)
#define SDR_PARDENY          (SDR_BASE + 0x00000007)
#define SDR_KEYNOTEXIST      (SDR_BASE + 0x00000008)
#define SDR_ALGNOTSUPPORT    (SDR_BASE + 0x00000009)
#define SDR_SIGNERR          (SDR_BASE + 0x0000000D)
#define SDR_INARGERR         (SDR_BASE + 0x0000001D)
#define SDR_OUTARGERR        (SDR_BASE + 0x0000001E)

int SDF_OpenDevice(void **phDeviceHandle);
int SDF_CloseDevice(void *hDeviceHandle);
int SDF_OpenSession(void *hDeviceHandle, void **phSessionHandle);
int SDF_CloseSession(void *hSessionHandle);
int SDF_GetPrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex,
                                 unsigned char *pucPassword, unsigned int uiPwdLength);
int SDF_ReleasePrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex);
int SDF_ExportSignPublicKey_ECC(void *hSessionHandle, unsigned int uiKeyIndex,
                                ECCrefPublicKey *pucPublicKey);
int SDF_InternalSign_ECC(void *hSessionHandle, unsigned int uiISKIndex,
                         unsigned char *pucData, unsigned int uiDataLength,
                         ECCSignature *pucSignature);

/* Symmetric keys under the device's internal key-encryption keys (data keys at rest). */
int SDF_GenerateKeyWithKEK(void *hSessionHandle, unsigned int uiKeyBits, unsigned int uiAlgID,
                           unsigned int uiKEKIndex, unsigned char *pucKey,
                           unsigned int *puiKeyLength, void **phKeyHandle);
int SDF_ImportKeyWithKEK(void *hSessionHandle, unsigned int uiAlgID, unsigned int uiKEKIndex,
                         unsigned char *pucKey, unsigned int uiKeyLength, void **phKeyHandle);
int SDF_DestroyKey(void *hSessionHandle, void *hKeyHandle);
int SDF_Encrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                unsigned char *pucEncData, unsigned int *puiEncDataLength);
int SDF_Decrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucEncData, unsigned int uiEncDataLength,
                unsigned char *pucData, unsigned int *puiDataLength);
int SDF_CalculateMAC(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                     unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                     unsigned char *pucMAC, unsigned int *puiMACLength);

#endif
