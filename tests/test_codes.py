import pytest

from providers.codes import extract_code

BODIES = [
    # --- plain codes, English
    ("plain", "Your code is 482913", "482913"),
    ("telegram", "Telegram code: 12345\n\nYou can also tap on this link to log in:\nhttps://t.me/login/12345", "12345"),
    ("telegram-login", "Login code 12345. Do not give this code to anyone, even if they say they are from Telegram!",
     "12345"),
    ("microsoft", "Use 1234567 as Microsoft account security code", "1234567"),
    ("uber", "Your Uber code is 1234. Never share this code. Reply STOP ALL to 89203 to unsubscribe.", "1234"),
    ("amazon", "482913 is your Amazon OTP. Do not share it with anyone.", "482913"),
    ("apple", "Your Apple ID Code is: 123456. Don't share it with anyone.", "123456"),
    ("discord", "Your Discord security code is: 739104", "739104"),
    ("tiktok", "[TikTok] 123456 is your verification code, valid for 5 minutes. Message and data rates may apply.",
     "123456"),
    ("twitter", "Your X confirmation code is 58213901. Don't share it.", "58213901"),
    ("no-label", "Acme: 90417", "90417"),
    ("pin-word", "Your PIN: 8804. It expires in 1440 minutes.", "8804"),
    ("password", "Your one-time password is 66120, valid until 14:30", "66120"),
    ("colon-no-space", "Код:4821", "4821"),
    # --- split and prefixed codes: digits only
    ("whatsapp", "Your WhatsApp code: 123-456\n\nYou can also tap on this link to verify your phone: "
                 "v.whatsapp.com/123456\n\nDon't share this code with others", "123456"),
    ("instagram", "123 456 is your Instagram code. Don't share it.", "123456"),
    ("split-4-4", "Your Chase one-time code is 1234 5678. We'll never call you to ask for it.", "12345678"),
    ("google", "G-482913 is your Google verification code.", "482913"),
    ("facebook", "FB-12345 is your Facebook confirmation code", "12345"),
    ("facebook-label", "Your Facebook code: FB-55123", "55123"),
    # --- alphanumeric only when labelled
    ("alnum", "Your code: AB12CD", "AB12CD"),
    ("alnum-is", "Steam Guard code is: 7K9QF", "7K9QF"),
    ("alnum-unlabelled", "Ticket AB12CD confirmed", None),
    # --- numbers that are not the code
    ("bank-amount", "Purchase of $1,250.00 at AMAZON with card *4321. OTP: 739201", "739201"),
    ("bank-inr", "Your OTP for transaction of INR 2,500.00 at AMAZON on card XX1234 is 739201. Valid for 10 mins.",
     "739201"),
    ("card-ending", "You're paying 49.99 USD with card ending 4321. OTP: 739201", "739201"),
    ("phone-and-code", "Call +1 800 555 0199 if this wasn't you. Your code is 5521.", "5521"),
    ("phone-no-plus", "Code 4821. Questions? 1-800-555-0199", "4821"),
    ("year-loses", "Acme 2026: your login code is 918273", "918273"),
    ("year-unlabelled", "Happy New Year 2026 from Acme!", None),
    ("year-labelled", "Your PIN is 1999", "1999"),
    ("date", "Delivery on 12.05.2026 at 14:30, code 5050", "5050"),
    ("iso-date", "Login on 2026-05-12 from Chrome. Your code: 31337", "31337"),
    ("order-vs-code", "Order 20948571 confirmed. Your pickup code is 7731.", "7731"),
    # --- Russian and Ukrainian
    ("ru-confirm", "Код подтверждения: 4821. Никому не сообщайте его.", "4821"),
    ("ru-vk", "VK: 482913 — код для входа. Никому не сообщайте.", "482913"),
    ("ru-sber", "Пароль для подтверждения покупки на сумму 1 250,00 р.: 4821. Никому не сообщайте пароль.", "4821"),
    ("ru-amount-rub", "Списание 2500 руб. в SHOP. Ваш код 7712", "7712"),
    ("ru-yandex", "Ваш пароль 4810. Действует 10 минут.", "4810"),
    ("ru-phone", "Позвоните +7 (912) 345-67-89, ваш код 3344", "3344"),
    ("uk", "Ваш код для входу: 5521", "5521"),
    # --- other languages
    ("es", "Tu código de verificación de WhatsApp es 834-291", "834291"),
    ("pt", "Seu código do Nubank é 493021. Não compartilhe.", "493021"),
    ("de", "Ihr Bestätigungscode lautet 662901", "662901"),
    ("fr", "Votre code de vérification est 120934", "120934"),
    ("pl", "Twój kod weryfikacyjny to 5812", "5812"),
    ("tr", "Doğrulama kodunuz: 774210", "774210"),
    ("zh", "【微信】验证码：482913，5分钟内有效。", "482913"),
    # --- nothing to find
    ("no-code", "Welcome to Acme! Reply STOP to unsubscribe.", None),
    ("balance-only", "Your balance is $1,234.56 as of 14:30", None),
    ("phone-only", "Call me back at +1 415 555 2671", None),
    ("empty", "", None),
]


@pytest.mark.parametrize(("body", "expected"), [b[1:] for b in BODIES], ids=[b[0] for b in BODIES])
def test_extract_code_from_body(body, expected):
    assert extract_code(body) == expected


@pytest.mark.parametrize(
    ("provided", "expected"),
    [
        pytest.param(482913, "482913", id="int"),
        pytest.param("  4821 \n", "4821", id="str-spaces"),
        pytest.param("AB12CD", "AB12CD", id="str-alnum"),
        pytest.param("", "999111", id="empty-string"),
        pytest.param("   ", "999111", id="blank-string"),
        pytest.param("null", "999111", id="null-string"),
        pytest.param("NULL", "999111", id="null-upper"),
        pytest.param(None, "999111", id="none"),
        pytest.param(0, "999111", id="int-zero"),
    ],
)
def test_provided_code_wins_over_body(provided, expected):
    assert extract_code("Your code is 999111", provided) == expected


def test_provided_code_without_body():
    assert extract_code("", 1234) == "1234"
    assert extract_code("", "null") is None
