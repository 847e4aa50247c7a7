// One key pair with known answers, for the tests of keys, patterns and queries.
// RFC 8032 test 1: seed and public key; the libsodium secret key is seed ‖ public key.
export const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
export const PK = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
export const SK = SEED + PK;
// z-base32 of PK and the SHA-1 vectors, computed outside this code base (Python hashlib).
export const PK_Z32 = '47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy';
export const PK_ID = '95bb02c0947a47c465e593201b5821ab01195256';
export const NODE1_ID = 'cc427bcf8822d2e046a2d46f7899de9f5318931c';
export const A_EXAMPLE_ID = '005191876859eed6f9297feb53d0e893d5875391';
