//! The published examples as test vectors: RFC 7516 Appendix A, RFC 7518 Appendix C and the
//! JWE cases of RFC 7520 section 5 (as the IETF JOSE cookbook publishes them).

#![allow(clippy::unwrap_used)]

use aws_lc_rs::key_wrap::{AES_128, KeyEncryptionKey, KeyWrap as _};

use super::*;
use crate::crypto::b64url;

/// RFC 7516 A.1: RSA-OAEP and A256GCM, and its RSA key.
const A1_KEY: &str = "{\"kty\":\"RSA\",\"n\":\"oahUIoWw0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUWcJoZmds2h7M70imEVhRU5djINXtqllXI4DFqcI1DgjT9LewND8MW2Krf3Spsk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN92i2asbOenSZeyaxziK72UwxrrKoExv6kc5twXTq4h-QChLOln0_mtUZwfsRaMStPs6mS6XrgxnxbWhojf663tuEQueGC-FCMfra36C9knDFGzKsNa7LZK2djYgyD3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw\",\"e\":\"AQAB\",\"d\":\"kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5NWV5KntaEeXS1j82E375xxhWMHXyvjYecPT9fpwR_M9gV8n9Hrh2anTpTD93Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7uGR1hghkqDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vlt3UVe4WO3JkJOzlpUf-KTVI2Ptgm-dARxTEtE-id-4OJr0h-K-VFs3VSndVTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ\",\"p\":\"1r52Xk46c-LsfB5P442p7atdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-SWxkbkmoEzL7JXroSBjSrK3YIQgYdMgyAEPTPjXv_hI2_1eTSPVZfzL0lffNn03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0\",\"q\":\"wLb35x7hmQWZsWJmB_vle87ihgZ19S8lBEROLIsZG4ayZVe9Hi9gDVCOBmUDdaDYVTSNx_8Fyw1YYa9XGrGnDew00J28cRUoeBB_jKI1oma0Orv1T9aXIWxKwd4gvxFImOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc\",\"dp\":\"ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfeQ3SiresXjm9gZ5KLhMXvo-uz-KUJWDxS5pFQ_M0evdo1dKiRTjVw_x4NyqyXPM5nULPkcpU827rnpZzAJKpdhWAgqrXGKAECQH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE\",\"dq\":\"Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy86x0vHCjywcMlYYg4yoC4YZa9hNVcsjqA3FeiL19rk8g6Qn29Tt0cj8qqyFpz9vNDBUfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X5tvLx-TCekf7oxyeKDUqKWjis\",\"qi\":\"VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7AlWAyLWybqq6t16VFd7hQd0y6flUK4SlOydB61gwanOsXGOAOv82cHq0E3eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_XyaY14ardLSjf4L_FNY\"}";
const A1_JWE: &str = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ";
const A1_PLAINTEXT: &str = "The true sign of intelligence is not knowledge but imagination.";
/// RFC 7516 A.2: RSA1_5 and A128CBC-HS256, and the content key it carries.
const A2_JWE: &str = "eyJhbGciOiJSU0ExXzUiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.UGhIOguC7IuEvf_NPVaXsGMoLOmwvc1GyqlIKOK1nN94nHPoltGRhWhw7Zx0-kFm1NJn8LE9XShH59_i8J0PH5ZZyNfGy2xGdULU7sHNF6Gp2vPLgNZ__deLKxGHZ7PcHALUzoOegEI-8E66jX2E4zyJKx-YxzZIItRzC5hlRirb6Y5Cl_p-ko3YvkkysZIFNPccxRU7qve1WYPxqbb2Yw8kZqa2rMWI5ng8OtvzlV7elprCbuPhcCdZ6XDP0_F8rkXds2vE4X-ncOIM8hAYHHi29NX0mcKiRaD0-D-ljQTP-cFPgwCp6X-nZZd9OHBv-B3oWh2TbqmScqXMR4gp_A.AxY8DCtDaGlsbGljb3RoZQ.KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.9hH0vgRfYgPnAHOd8stkvw";
const A2_CEK: [u8; 32] = [
    4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124, 212, 45,
    111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
];
/// RFC 7516 A.3: A128KW and A128CBC-HS256, and its key-encryption key.
const A3_JWE: &str = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.AxY8DCtDaGlsbGljb3RoZQ.KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04DJvceFICbCVQ";
const A3_KEK: &str = "GawgguFyGrWKav7AX4VKUg";
const A2_A3_PLAINTEXT: &str = "Live long and prosper.";

/// RFC 7520 section 5 (the cookbook's JSON files).
mod cookbook {
    pub(super) const C5_2_KEY: &str = "{\"kty\":\"RSA\",\"kid\":\"samwise.gamgee@hobbiton.example\",\"use\":\"enc\",\"n\":\"wbdxI55VaanZXPY29Lg5hdmv2XhvqAhoxUkanfzf2-5zVUxa6prHRrI4pP1AhoqJRlZfYtWWd5mmHRG2pAHIlh0ySJ9wi0BioZBl1XP2e-C-FyXJGcTy0HdKQWlrfhTm42EW7Vv04r4gfao6uxjLGwfpGrZLarohiWCPnkNrg71S2CuNZSQBIPGjXfkmIy2tl_VWgGnL22GplyXj5YlBLdxXp3XeStsqo571utNfoUTU8E4qdzJ3U1DItoVkPGsMwlmmnJiwA7sXRItBCivR4M5qnZtdw-7v4WuR4779ubDuJ5nalMv2S66-RPcnFAzWSKxtBDnFJJDGIUe7Tzizjg1nms0Xq_yPub_UOlWn0ec85FCft1hACpWG8schrOBeNqHBODFskYpUc2LC5JA2TaPF2dA67dg1TTsC_FupfQ2kNGcE1LgprxKHcVWYQb86B-HozjHZcqtauBzFNV5tbTuB-TpkcvJfNcFLlH3b8mb-H_ox35FjqBSAjLKyoeqfKTpVjvXhd09knwgJf6VKq6UC418_TOljMVfFTWXUxlnfhOOnzW6HSSzD1c9WrCuVzsUMv54szidQ9wf1cYWf3g5qFDxDQKis99gcDaiCAwM3yEBIzuNeeCa5dartHDb1xEB_HcHSeYbghbMjGfasvKn0aZRsnTyC0xhWBlsolZE\",\"e\":\"AQAB\",\"alg\":\"RSA-OAEP\",\"d\":\"n7fzJc3_WG59VEOBTkayzuSMM780OJQuZjN_KbH8lOZG25ZoA7T4Bxcc0xQn5oZE5uSCIwg91oCt0JvxPcpmqzaJZg1nirjcWZ-oBtVk7gCAWq-B3qhfF3izlbkosrzjHajIcY33HBhsy4_WerrXg4MDNE4HYojy68TcxT2LYQRxUOCf5TtJXvM8olexlSGtVnQnDRutxEUCwiewfmmrfveEogLx9EA-KMgAjTiISXxqIXQhWUQX1G7v_mV_Hr2YuImYcNcHkRvp9E7ook0876DhkO8v4UOZLwA1OlUX98mkoqwc58A_Y2lBYbVx1_s5lpPsEqbbH-nqIjh1fL0gdNfihLxnclWtW7pCztLnImZAyeCWAG7ZIfv-Rn9fLIv9jZ6r7r-MSH9sqbuziHN2grGjD_jfRluMHa0l84fFKl6bcqN1JWxPVhzNZo01yDF-1LiQnqUYSepPf6X3a2SOdkqBRiquE6EvLuSYIDpJq3jDIsgoL8Mo1LoomgiJxUwL_GWEOGu28gplyzm-9Q0U0nyhEf1uhSR8aJAQWAiFImWH5W_IQT9I7-yrindr_2fWQ_i1UgMsGzA7aOGzZfPljRy6z-tY_KuBG00-28S_aWvjyUc-Alp8AUyKjBZ-7CWH32fGWK48j1t-zomrwjL_mnhsPbGs0c9WsWgRzI-K8gE\",\"p\":\"7_2v3OQZzlPFcHyYfLABQ3XP85Es4hCdwCkbDeltaUXgVy9l9etKghvM4hRkOvbb01kYVuLFmxIkCDtpi-zLCYAdXKrAK3PtSbtzld_XZ9nlsYa_QZWpXB_IrtFjVfdKUdMz94pHUhFGFj7nr6NNxfpiHSHWFE1zD_AC3mY46J961Y2LRnreVwAGNw53p07Db8yD_92pDa97vqcZOdgtybH9q6uma-RFNhO1AoiJhYZj69hjmMRXx-x56HO9cnXNbmzNSCFCKnQmn4GQLmRj9sfbZRqL94bbtE4_e0Zrpo8RNo8vxRLqQNwIy85fc6BRgBJomt8QdQvIgPgWCv5HoQ\",\"q\":\"zqOHk1P6WN_rHuM7ZF1cXH0x6RuOHq67WuHiSknqQeefGBA9PWs6ZyKQCO-O6mKXtcgE8_Q_hA2kMRcKOcvHil1hqMCNSXlflM7WPRPZu2qCDcqssd_uMbP-DqYthH_EzwL9KnYoH7JQFxxmcv5An8oXUtTwk4knKjkIYGRuUwfQTus0w1NfjFAyxOOiAQ37ussIcE6C6ZSsM3n41UlbJ7TCqewzVJaPJN5cxjySPZPD3Vp01a9YgAD6a3IIaKJdIxJS1ImnfPevSJQBE79-EXe2kSwVgOzvt-gsmM29QQ8veHy4uAqca5dZzMs7hkkHtw1z0jHV90epQJJlXXnH8Q\",\"dp\":\"19oDkBh1AXelMIxQFm2zZTqUhAzCIr4xNIGEPNoDt1jK83_FJA-xnx5kA7-1erdHdms_Ef67HsONNv5A60JaR7w8LHnDiBGnjdaUmmuO8XAxQJ_ia5mxjxNjS6E2yD44USo2JmHvzeeNczq25elqbTPLhUpGo1IZuG72FZQ5gTjXoTXC2-xtCDEUZfaUNh4IeAipfLugbpe0JAFlFfrTDAMUFpC3iXjxqzbEanflwPvj6V9iDSgjj8SozSM0dLtxvu0LIeIQAeEgT_yXcrKGmpKdSO08kLBx8VUjkbv_3Pn20Gyu2YEuwpFlM_H1NikuxJNKFGmnAq9LcnwwT0jvoQ\",\"dq\":\"S6p59KrlmzGzaQYQM3o0XfHCGvfqHLYjCO557HYQf72O9kLMCfd_1VBEqeD-1jjwELKDjck8kOBl5UvohK1oDfSP1DleAy-cnmL29DqWmhgwM1ip0CCNmkmsmDSlqkUXDi6sAaZuntyukyflI-qSQ3C_BafPyFaKrt1fgdyEwYa08pESKwwWisy7KnmoUvaJ3SaHmohFS78TJ25cfc10wZ9hQNOrIChZlkiOdFCtxDqdmCqNacnhgE3bZQjGp3n83ODSz9zwJcSUvODlXBPc2AycH6Ci5yjbxt4Ppox_5pjm6xnQkiPgj01GpsUssMmBN7iHVsrE7N2iznBNCeOUIQ\",\"qi\":\"FZhClBMywVVjnuUud-05qd5CYU0dK79akAgy9oX6RX6I3IIIPckCciRrokxglZn-omAY5CnCe4KdrnjFOT5YUZE7G_Pg44XgCXaarLQf4hl80oPEf6-jJ5Iy6wPRx7G2e8qLxnh9cOdf-kRqgOS3F48Ucvw3ma5V6KGMwQqWFeV31XtZ8l5cVI-I3NzBS7qltpUVgz2Ju021eyc7IlqgzR98qKONl27DuEES0aK0WE97jnsyO27Yp88Wa2RiBrEocM89QZI1seJiGDizHRUP4UZxw9zsXww46wy0P6f9grnYp7t8LkyDDk8eoI4KX6SNMNVcyVS9IWjlq8EzqZEKIA\"}";
    pub(super) const C5_2_JWE: &str = "eyJhbGciOiJSU0EtT0FFUCIsImtpZCI6InNhbXdpc2UuZ2FtZ2VlQGhvYmJpdG9uLmV4YW1wbGUiLCJlbmMiOiJBMjU2R0NNIn0.rT99rwrBTbTI7IJM8fU3Eli7226HEB7IchCxNuh7lCiud48LxeolRdtFF4nzQibeYOl5S_PJsAXZwSXtDePz9hk-BbtsTBqC2UsPOdwjC9NhNupNNu9uHIVftDyucvI6hvALeZ6OGnhNV4v1zx2k7O1D89mAzfw-_kT3tkuorpDU-CpBENfIHX1Q58-Aad3FzMuo3Fn9buEP2yXakLXYa15BUXQsupM4A1GD4_H4Bd7V3u9h8Gkg8BpxKdUV9ScfJQTcYm6eJEBz3aSwIaK4T3-dwWpuBOhROQXBosJzS1asnuHtVMt2pKIIfux5BC6huIvmY7kzV7W7aIUrpYm_3H4zYvyMeq5pGqFmW2k8zpO878TRlZx7pZfPYDSXZyS0CfKKkMozT_qiCwZTSz4duYnt8hS4Z9sGthXn9uDqd6wycMagnQfOTs_lycTWmY-aqWVDKhjYNRf03NiwRtb5BE-tOdFwCASQj3uuAgPGrO2AWBe38UjQb0lvXn1SpyvYZ3WFc7WOJYaTa7A8DRn6MC6T-xDmMuxC0G7S2rscw5lQQU06MvZTlFOt0UvfuKBa03cxA_nIBIhLMjY2kOTxQMmpDPTr6Cbo8aKaOnx6ASE5Jx9paBpnNmOOKH35j_QlrQhDWUN6A2Gg8iFayJ69xDEdHAVCGRzN3woEI2ozDRs.-nBoKLH0YkLZPSI9.o4k2cnGN8rSSw3IDo1YuySkqeS_t2m1GXklSgqBdpACm6UJuJowOHC5ytjqYgRL-I-soPlwqMUf4UgRWWeaOGNw6vGW-xyM01lTYxrXfVzIIaRdhYtEMRBvBWbEwP7ua1DRfvaOjgZv6Ifa3brcAM64d8p5lhhNcizPersuhw5f-pGYzseva-TUaL8iWnctc-sSwy7SQmRkfhDjwbz0fz6kFovEgj64X1I5s7E6GLp5fnbYGLa1QUiML7Cc2GxgvI7zqWo0YIEc7aCflLG1-8BboVWFdZKLK9vNoycrYHumwzKluLWEbSVmaPpOslY2n525DxDfWaVFUfKQxMF56vn4B9QMpWAbnypNimbM8zVOw.UCGiqJxhBI3IFVdPalHHvA";
    pub(super) const COOKBOOK_PLAINTEXT: &str = "You can trust us to stick with you through thick and thin–to the bitter end. And you can trust us to keep any secret of yours–closer than you keep it yourself. But you cannot trust us to let you face trouble alone, and go off without a word. We are your friends, Frodo.";
    pub(super) const C5_5_KEY: &str = "{\"kty\":\"EC\",\"kid\":\"meriadoc.brandybuck@buckland.example\",\"use\":\"enc\",\"crv\":\"P-256\",\"x\":\"Ze2loSV3wrroKUN_4zhwGhCqo3Xhu1td4QjeQ5wIVR0\",\"y\":\"HlLtdXARY_f55A3fnzQbPcm6hgr34Mp8p-nuzQCE0Zw\",\"d\":\"r_kHyZ-a06rmxM3yESK84r1otSg-aQcVStkRhA-iCM8\"}";
    pub(super) const C5_5_JWE: &str = "eyJhbGciOiJFQ0RILUVTIiwia2lkIjoibWVyaWFkb2MuYnJhbmR5YnVja0BidWNrbGFuZC5leGFtcGxlIiwiZXBrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoibVBVS1RfYkFXR0hJaGcwVHBqanFWc1AxclhXUXVfdndWT0hIdE5rZFlvQSIsInkiOiI4QlFBc0ltR2VBUzQ2ZnlXdzVNaFlmR1RUMElqQnBGdzJTUzM0RHY0SXJzIn0sImVuYyI6IkExMjhDQkMtSFMyNTYifQ..yc9N8v5sYyv3iGQT926IUg.BoDlwPnTypYq-ivjmQvAYJLb5Q6l-F3LIgQomlz87yW4OPKbWE1zSTEFjDfhU9IPIOSA9Bml4m7iDFwA-1ZXvHteLDtw4R1XRGMEsDIqAYtskTTmzmzNa-_q4F_evAPUmwlO-ZG45Mnq4uhM1fm_D9rBtWolqZSF3xGNNkpOMQKF1Cl8i8wjzRli7-IXgyirlKQsbhhqRzkv8IcY6aHl24j03C-AR2le1r7URUhArM79BY8soZU0lzwI-sD5PZ3l4NDCCei9XkoIAfsXJWmySPoeRb2Ni5UZL4mYpvKDiwmyzGd65KqVw7MsFfI_K767G9C9Azp73gKZD0DyUn1mn0WW5LmyX_yJ-3AROq8p1WZBfG-ZyJ6195_JGG2m9Csg.WCCkNa-x4BeB9hIDIfFuhg";
    pub(super) const C5_1_RSA1_5: &str = "eyJhbGciOiJSU0ExXzUiLCJraWQiOiJmcm9kby5iYWdnaW5zQGhvYmJpdG9uLmV4YW1wbGUiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.laLxI0j-nLH-_BgLOXMozKxmy9gffy2gTdvqzfTihJBuuzxg0V7yk1WClnQePFvG2K-pvSlWc9BRIazDrn50RcRai__3TDON395H3c62tIouJJ4XaRvYHFjZTZ2GXfz8YAImcc91Tfk0WXC2F5Xbb71ClQ1DDH151tlpH77f2ff7xiSxh9oSewYrcGTSLUeeCt36r1Kt3OSj7EyBQXoZlN7IxbyhMAfgIe7Mv1rOTOI5I8NQqeXXW8VlzNmoxaGMny3YnGir5Wf6Qt2nBq4qDaPdnaAuuGUGEecelIO1wx1BpyIfgvfjOhMBs9M8XL223Fg47xlGsMXdfuY-4jaqVw.bbd5sTkYwhAIqfHsx8DayA.0fys_TY_na7f8dwSfXLiYdHaA2DxUjD67ieF7fcVbIR62JhJvGZ4_FNVSiGc_raa0HnLQ6s1P2sv3Xzl1p1l_o5wR_RsSzrS8Z-wnI3Jvo0mkpEEnlDmZvDu_k8OWzJv7eZVEqiWKdyVzFhPpiyQU28GLOpRc2VbVbK4dQKPdNTjPPEmRqcaGeTWZVyeSUvf5k59yJZxRuSvWFf6KrNtmRdZ8R4mDOjHSrM_s8uwIFcqt4r5GX8TKaI0zT5CbL5Qlw3sRc7u_hg0yKVOiRytEAEs3vZkcfLkP6nbXdC_PkMdNS-ohP78T2O6_7uInMGhFeX4ctHG7VelHGiT93JfWDEQi5_V9UN1rhXNrYu-0fVMkZAKX3VWi7lzA6BP430m.kvKuFBXHe5mQr4lqgobAUg";
    pub(super) const C5_3_PBES2: &str = "eyJhbGciOiJQQkVTMi1IUzUxMitBMjU2S1ciLCJwMnMiOiI4UTFTemluYXNSM3hjaFl6NlpaY0hBIiwicDJjIjo4MTkyLCJjdHkiOiJqd2stc2V0K2pzb24iLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.d3qNhUWfqheyPp4H8sjOWsDYajoej4c5Je6rlUtFPWdgtURtmeDV1g.VBiCzVHNoLiR3F4V82uoTQ.23i-Tb1AV4n0WKVSSgcQrdg6GRqsUKxjruHXYsTHAJLZ2nsnGIX86vMXqIi6IRsfywCRFzLxEcZBRnTvG3nhzPk0GDD7FMyXhUHpDjEYCNA_XOmzg8yZR9oyjo6lTF6si4q9FZ2EhzgFQCLO_6h5EVg3vR75_hkBsnuoqoM3dwejXBtIodN84PeqMb6asmas_dpSsz7H10fC5ni9xIz424givB1YLldF6exVmL93R3fOoOJbmk2GBQZL_SEGllv2cQsBgeprARsaQ7Bq99tT80coH8ItBjgV08AtzXFFsx9qKvC982KLKdPQMTlVJKkqtV4Ru5LEVpBZXBnZrtViSOgyg6AiuwaS-rCrcD_ePOGSuxvgtrokAKYPqmXUeRdjFJwafkYEkiuDCV9vWGAi1DH2xTafhJwcmywIyzi4BqRpmdn_N-zl5tuJYyuvKhjKv6ihbsV_k1hJGPGAxJ6wUpmwC4PTQ2izEm0TuSE8oMKdTw8V3kobXZ77ulMwDs4p.0HlwodAhOCILG5SQ2LQ9dg";
    pub(super) const C5_6_DIR: &str = "eyJhbGciOiJkaXIiLCJraWQiOiI3N2M3ZTJiOC02ZTEzLTQ1Y2YtODY3Mi02MTdiNWI0NTI0M2EiLCJlbmMiOiJBMTI4R0NNIn0..refa467QzzKx6QAB.JW_i_f52hww_ELQPGaYyeAB6HYGcR559l9TYnSovc23XJoBcW29rHP8yZOZG7YhLpT1bjFuvZPjQS-m0IFtVcXkZXdH_lr_FrdYt9HRUYkshtrMmIUAyGmUnd9zMDB2n0cRDIHAzFVeJUDxkUwVAE7_YGRPdcqMyiBoCO-FBdE-Nceb4h3-FtBP-c_BIwCPTjb9o0SbdcdREEMJMyZBH8ySWMVi1gPD9yxi-aQpGbSv_F9N4IZAxscj5g-NJsUPbjk29-s7LJAGb15wEBtXphVCgyy53CoIKLHHeJHXex45Uz9aKZSRSInZI-wjsY0yu3cT4_aQ3i1o-tiE-F8Ios61EKgyIQ4CWao8PFMj8TTnp.vbb32Xvllea2OtmHAdccRQ";
    pub(super) const C5_8_A128KW: &str = "eyJhbGciOiJBMTI4S1ciLCJraWQiOiI4MWIyMDk2NS04MzMyLTQzZDktYTQ2OC04MjE2MGFkOTFhYzgiLCJlbmMiOiJBMTI4R0NNIn0.CBI6oDw8MydIx1IBntf_lQcw2MmJKIQx.Qx0pmsDa8KnJc9Jo.AwliP-KmWgsZ37BvzCefNen6VTbRK3QMA4TkvRkH0tP1bTdhtFJgJxeVmJkLD61A1hnWGetdg11c9ADsnWgL56NyxwSYjU1ZEHcGkd3EkU0vjHi9gTlb90qSYFfeF0LwkcTtjbYKCsiNJQkcIp1yeM03OmuiYSoYJVSpf7ej6zaYcMv3WwdxDFl8REwOhNImk2Xld2JXq6BR53TSFkyT7PwVLuq-1GwtGHlQeg7gDT6xW0JqHDPn_H-puQsmthc9Zg0ojmJfqqFvETUxLAF-KjcBTS5dNy6egwkYtOt8EIHK-oEsKYtZRaa8Z7MOZ7UGxGIMvEmxrGCPeJa14slv2-gaqK0kEThkaSqdYw0FkQZF.ER7MWJZ1FBI_NKvn7Zb1Lw";
    pub(super) const C5_9_ZIP: &str = "eyJhbGciOiJBMTI4S1ciLCJraWQiOiI4MWIyMDk2NS04MzMyLTQzZDktYTQ2OC04MjE2MGFkOTFhYzgiLCJlbmMiOiJBMTI4R0NNIiwiemlwIjoiREVGIn0.5vUT2WOtQxKWcekM_IzVQwkGgzlFDwPi.p9pUq6XHY0jfEZIl.HbDtOsdai1oYziSx25KEeTxmwnh8L8jKMFNc1k3zmMI6VB8hry57tDZ61jXyezSPt0fdLVfe6Jf5y5-JaCap_JQBcb5opbmT60uWGml8blyiMQmOn9J--XhhlYg0m-BHaqfDO5iTOWxPxFMUedx7WCy8mxgDHj0aBMG6152PsM-w5E_o2B3jDbrYBKhpYA7qi3AyijnCJ7BP9rr3U8kxExCpG3mK420TjOw.VILuUwuIxaLVmh5X-T7kmA";
}
use cookbook::*;

fn keys(jwk: &str) -> ClientKeys {
    ClientKeys::from_jwks(&format!("{{\"keys\":[{jwk}]}}")).unwrap()
}

/// A key without `kid` gets one, since client keys must have one.
fn with_kid(jwk: &str) -> String {
    jwk.replacen('{', "{\"kid\":\"rfc\",", 1)
}

fn open(token: &str, keys: &ClientKeys) -> Result<Vec<u8>, Refusal> {
    Jwe::parse(token)?.decrypt(keys)
}

fn part(token: &str, i: usize) -> Vec<u8> {
    b64url_decode(token.split('.').nth(i).unwrap()).unwrap()
}

#[test]
fn rfc7516_a1_rsa_oaep_a256gcm_decrypts() {
    let keys = keys(&with_kid(A1_KEY));
    assert_eq!(open(A1_JWE, &keys).unwrap(), A1_PLAINTEXT.as_bytes());
    // Without a kid in the header, every key of the family is tried; with another kid, none.
    let mut other = A1_JWE.to_owned();
    let header = b64url(br#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"other"}"#);
    other.replace_range(..A1_JWE.find('.').unwrap(), &header);
    assert_eq!(open(&other, &keys), Err(Refusal::UnknownKey));
}

#[test]
fn rfc7516_a2_rsa1_5_is_refused_and_its_content_decrypts_with_its_cek() {
    assert_eq!(Jwe::parse(A2_JWE).err(), Some(Refusal::KeyManagement));
    let header = A2_JWE.split('.').next().unwrap();
    let plain = decrypt_content(
        Enc::A128CbcHs256,
        &A2_CEK,
        header.as_bytes(),
        &part(A2_JWE, 2),
        &part(A2_JWE, 3),
        &part(A2_JWE, 4),
    )
    .unwrap();
    assert_eq!(plain, A2_A3_PLAINTEXT.as_bytes());
}

#[test]
fn rfc7516_a3_symmetric_key_wrap_is_refused_and_its_content_checks() {
    assert_eq!(Jwe::parse(A3_JWE).err(), Some(Refusal::KeyManagement));
    // The A128CBC-HS256 content, under the CEK that A128KW unwraps.
    let kek = KeyEncryptionKey::new(&AES_128, &b64url_decode(A3_KEK).unwrap()).unwrap();
    let wrapped = part(A3_JWE, 1);
    let mut cek = vec![0u8; wrapped.len()];
    let cek = kek.unwrap(&wrapped, &mut cek).unwrap().to_vec();
    assert_eq!(cek, A2_CEK);
    let header = A3_JWE.split('.').next().unwrap();
    let (iv, ct, tag) = (part(A3_JWE, 2), part(A3_JWE, 3), part(A3_JWE, 4));
    let plain = decrypt_content(Enc::A128CbcHs256, &cek, header.as_bytes(), &iv, &ct, &tag);
    assert_eq!(plain.unwrap(), A2_A3_PLAINTEXT.as_bytes());
    // The tag is checked before decrypting: one flipped tag bit, or one flipped ciphertext
    // bit, and nothing decrypts.
    let mut bad_tag = tag.clone();
    bad_tag[0] ^= 1;
    assert_eq!(
        decrypt_content(
            Enc::A128CbcHs256,
            &cek,
            header.as_bytes(),
            &iv,
            &ct,
            &bad_tag
        ),
        Err(Refusal::Decryption)
    );
    let mut bad_ct = ct.clone();
    bad_ct[0] ^= 1;
    assert_eq!(
        decrypt_content(
            Enc::A128CbcHs256,
            &cek,
            header.as_bytes(),
            &iv,
            &bad_ct,
            &tag
        ),
        Err(Refusal::Decryption)
    );
    // The A.2 tag (another protected header) does not authenticate the A.3 content.
    assert_eq!(
        decrypt_content(
            Enc::A128CbcHs256,
            &cek,
            header.as_bytes(),
            &iv,
            &ct,
            &part(A2_JWE, 4)
        ),
        Err(Refusal::Decryption)
    );
}

#[test]
fn rfc7518_appendix_c_concat_kdf_and_ecdh() {
    let z = [
        158u8, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110,
        163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];
    let derived = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
    assert_eq!(b64url(&derived), "VqqN6vgjbSBcIijNcacQGg");
    // The same key from Bob's private key and Alice's ephemeral public key.
    let bob = aws_lc_rs::agreement::PrivateKey::from_private_key(
        &ECDH_P256,
        &b64url_decode("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw").unwrap(),
    )
    .unwrap();
    let mut epk = vec![4u8];
    epk.extend(b64url_decode("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0").unwrap());
    epk.extend(b64url_decode("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps").unwrap());
    let agreed = ecdh_derive(&bob, &epk, "A128GCM", b"Alice", b"Bob", 16).unwrap();
    assert_eq!(b64url(&agreed), "VqqN6vgjbSBcIijNcacQGg");
    // A point off the curve (y changed) is refused, never used.
    let mut off_curve = epk.clone();
    off_curve[64] ^= 1;
    assert_eq!(
        ecdh_derive(&bob, &off_curve, "A128GCM", b"Alice", b"Bob", 16),
        Err(Refusal::Decryption)
    );
    // Longer outputs take more SHA-256 rounds and extend the shorter ones.
    let long = concat_kdf(&z, "A256CBC-HS512", b"", b"", 64);
    assert_eq!(long.len(), 64);
    assert_ne!(long[..32], long[32..]);
}

#[test]
fn rfc7520_5_2_rsa_oaep_a256gcm_decrypts() {
    let keys = keys(C5_2_KEY);
    assert_eq!(
        open(C5_2_JWE, &keys).unwrap(),
        COOKBOOK_PLAINTEXT.as_bytes()
    );
}

#[test]
fn rfc7520_5_5_ecdh_es_a128cbc_hs256_decrypts() {
    let ec = keys(C5_5_KEY);
    assert_eq!(open(C5_5_JWE, &ec).unwrap(), COOKBOOK_PLAINTEXT.as_bytes());
    // The same key cannot open the RSA example, and the RSA key not this one.
    assert_eq!(open(C5_2_JWE, &ec), Err(Refusal::UnknownKey));
    assert_eq!(open(C5_5_JWE, &keys(C5_2_KEY)), Err(Refusal::UnknownKey));
}

#[test]
fn rfc7520_refused_algorithms_and_compression() {
    assert_eq!(Jwe::parse(C5_1_RSA1_5).err(), Some(Refusal::KeyManagement));
    assert_eq!(Jwe::parse(C5_3_PBES2).err(), Some(Refusal::KeyManagement));
    assert_eq!(Jwe::parse(C5_6_DIR).err(), Some(Refusal::KeyManagement));
    assert_eq!(Jwe::parse(C5_8_A128KW).err(), Some(Refusal::KeyManagement));
    assert_eq!(Jwe::parse(C5_9_ZIP).err(), Some(Refusal::Compressed));
}

#[test]
fn tampering_is_refused() {
    let keys = keys(C5_5_KEY);
    let parts: Vec<&str> = C5_5_JWE.split('.').collect();
    let with = |i: usize, new: &str| {
        let mut p = parts.clone();
        p[i] = new;
        p.join(".")
    };
    // Tag, ciphertext, IV: each one bit off.
    for i in [2, 3, 4] {
        let mut bytes = part(C5_5_JWE, i);
        bytes[0] ^= 1;
        let tampered = with(i, &b64url(&bytes));
        assert_eq!(open(&tampered, &keys), Err(Refusal::Decryption), "part {i}");
    }
    // The protected header, re-encoded with one member more: it is the AAD.
    let mut header: Map<String, Value> = serde_json::from_slice(&part(C5_5_JWE, 0)).unwrap();
    header.insert("x-extra".into(), Value::Bool(true));
    let tampered = with(0, &b64url(&serde_json::to_vec(&header).unwrap()));
    assert_eq!(open(&tampered, &keys), Err(Refusal::Decryption));
    // An ephemeral key off the curve.
    let mut epk_off = header.clone();
    epk_off.remove("x-extra");
    let y = epk_off["epk"]["y"].as_str().unwrap().to_owned();
    let mut yb = b64url_decode(&y).unwrap();
    yb[31] ^= 1;
    epk_off["epk"]["y"] = Value::String(b64url(&yb));
    let tampered = with(0, &b64url(&serde_json::to_vec(&epk_off).unwrap()));
    assert_eq!(open(&tampered, &keys), Err(Refusal::Decryption));
}

#[test]
fn header_rules() {
    let keys = keys(C5_5_KEY);
    let header: Map<String, Value> = serde_json::from_slice(&part(C5_5_JWE, 0)).unwrap();
    let rest = &C5_5_JWE[C5_5_JWE.find('.').unwrap()..];
    let with = |name: &str, value: Value| {
        let mut h = header.clone();
        h.insert(name.into(), value);
        format!("{}{rest}", b64url(&serde_json::to_vec(&h).unwrap()))
    };
    let parse = |t: &str| Jwe::parse(t).err();
    assert_eq!(
        parse(&with("crit", serde_json::json!(["exp"]))),
        Some(Refusal::Critical)
    );
    assert_eq!(parse(&with("zip", "DEF".into())), Some(Refusal::Compressed));
    for m in ["jku", "x5u", "jwk", "x5c"] {
        assert_eq!(
            parse(&with(m, "x".into())),
            Some(Refusal::ForbiddenHeader),
            "{m}"
        );
    }
    for alg in [
        "RSA1_5",
        "dir",
        "A128KW",
        "A256KW",
        "A128GCMKW",
        "PBES2-HS256+A128KW",
        "none",
        "ECDH-ES+A192KW",
    ] {
        assert_eq!(
            parse(&with("alg", alg.into())),
            Some(Refusal::KeyManagement),
            "{alg}"
        );
    }
    for enc in ["A192GCM", "A192CBC-HS384", "none"] {
        assert_eq!(
            parse(&with("enc", enc.into())),
            Some(Refusal::ContentEncryption),
            "{enc}"
        );
    }
    assert_eq!(
        parse(&with("kid", Value::Bool(true))),
        Some(Refusal::Malformed)
    );
    assert_eq!(
        open(&with("kid", "nobody".into()), &keys),
        Err(Refusal::UnknownKey)
    );
    // Sizes are checked before any work.
    assert_eq!(
        parse(&"a".repeat(MAX_JWE_LEN + 1)),
        Some(Refusal::Malformed)
    );
    let big_header = b64url(&vec![b' '; MAX_HEADER_LEN]);
    assert_eq!(
        parse(&format!("{big_header}{rest}")),
        Some(Refusal::Malformed)
    );
    assert_eq!(parse("a.b.c.d"), Some(Refusal::Malformed));
    assert_eq!(parse("a.b.c.d.e.f"), Some(Refusal::Malformed));
    // ECDH-ES carries no encrypted key; a wrong-size IV or tag never reaches the cipher.
    let parts: Vec<&str> = C5_5_JWE.split('.').collect();
    let mut p = parts.clone();
    p[1] = "AAAA";
    assert_eq!(parse(&p.join(".")), Some(Refusal::Malformed));
    let mut p = parts.clone();
    p[2] = "AAAA";
    assert_eq!(parse(&p.join(".")), Some(Refusal::Malformed));
    let mut p = parts;
    p[4] = "AAAA";
    assert_eq!(parse(&p.join(".")), Some(Refusal::Malformed));
}
