"""The demo's knowledge base: a category tree and real-looking articles in English,
Russian, Italian and Greek, written through the services. `seed()` is idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from . import services
from .models import Article, ArticleTranslation, Category

if TYPE_CHECKING:
    from helpdesk.models import User

# slug, parent slug, English name, {language: name}
CATEGORIES: list[tuple[str, str | None, str, dict[str, str]]] = [
    ("hardware", None, "Hardware", {"ru": "Оборудование", "it": "Hardware", "el": "Υλικό"}),
    ("printers", "hardware", "Printers", {"ru": "Принтеры", "it": "Stampanti", "el": "Εκτυπωτές"}),
    ("billing", None, "Billing", {"ru": "Оплата и счета", "it": "Fatturazione", "el": "Χρεώσεις"}),
    ("payments", "billing", "Payments", {"ru": "Платежи", "it": "Pagamenti", "el": "Πληρωμές"}),
    ("invoices", "billing", "Invoices", {"ru": "Счета", "it": "Fatture", "el": "Τιμολόγια"}),
    ("account", None, "Account", {"ru": "Учётная запись", "it": "Account", "el": "Λογαριασμός"}),
    ("passwords", "account", "Passwords and sign-in",
     {"ru": "Пароли и вход", "it": "Password e accesso", "el": "Κωδικοί και σύνδεση"}),
    ("orders", None, "Orders", {"ru": "Заказы", "it": "Ordini", "el": "Παραγγελίες"}),
    ("deliveries", "orders", "Deliveries", {"ru": "Доставка", "it": "Spedizioni", "el": "Αποστολές"}),
    ("returns", "orders", "Returns", {"ru": "Возвраты", "it": "Resi", "el": "Επιστροφές"}),
    ("network", None, "Network and email", {"ru": "Сеть и почта", "it": "Rete e posta", "el": "Δίκτυο και email"}),
    ("vpn", "network", "VPN and Wi-Fi", {"ru": "VPN и Wi-Fi", "it": "VPN e Wi-Fi", "el": "VPN και Wi-Fi"}),
    ("email", "network", "Email", {"ru": "Почта", "it": "Posta elettronica", "el": "Ηλεκτρονικό ταχυδρομείο"}),
]

# key, category slug, status, tags, related keys, {language: (title, Markdown body)}; the first language is the original.
ARTICLES: list[tuple[str, str, str, list[str], list[str], dict[str, tuple[str, str]]]] = [
    ("printer-not-printing", "printers", Article.Status.PUBLISHED, ["printer", "driver", "hardware"], ["toner"], {
        "en": ("Printer is not printing", """\
If documents stay in the queue and nothing comes out, work through these steps in order.

## Quick checks

1. Make sure the printer is switched on and its display shows **Ready**.
2. Check that there is paper in the tray and that the front cover is closed.
3. Look at the indicator: a **blinking orange** light means a paper jam or an empty toner cartridge.

## Restart the print queue

1. Switch the printer off, wait **30 seconds** and switch it on again.
2. On your computer open *Settings → Printers & scanners*, select the printer and choose *Open queue*.
3. Cancel all stuck documents and print a test page.

## Reinstall the driver

If the printer stopped printing after an update, remove it from *Printers & scanners*,
restart the computer and add it again: the system downloads a fresh driver.

Still nothing? Open a ticket and tell us the printer model and what its display shows.
"""),
        "ru": ("Принтер не печатает", """\
Если документы висят в очереди печати, а принтер ничего не выдаёт, выполните шаги по порядку.

## Быстрая проверка

1. Убедитесь, что принтер включён и на дисплее горит **«Готов»**.
2. Проверьте, есть ли бумага в лотке и закрыта ли передняя крышка.
3. Посмотрите на индикатор: **мигающий оранжевый** сигнал означает замятие бумаги или пустой картридж.

## Перезапустите очередь печати

1. Выключите принтер, подождите **30 секунд** и включите снова.
2. На компьютере откройте *Параметры → Принтеры и сканеры*, выберите принтер и нажмите *Открыть очередь*.
3. Отмените все зависшие документы и напечатайте пробную страницу.

## Переустановите драйвер

Если принтер перестал печатать после обновления, удалите его в разделе *Принтеры и сканеры*,
перезагрузите компьютер и добавьте принтер заново — система сама скачает свежий драйвер.

Не помогло? Создайте заявку и укажите модель принтера и сообщение на его дисплее.
"""),
        "it": ("La stampante non stampa", """\
Se i documenti restano in coda e dalla stampante non esce nulla, segui questi passaggi nell'ordine.

## Controlli rapidi

1. Verifica che la stampante sia accesa e che sul display compaia **Pronta**.
2. Controlla che ci sia carta nel vassoio e che lo sportello anteriore sia chiuso.
3. Guarda la spia: una luce **arancione lampeggiante** indica carta inceppata o toner esaurito.

## Riavvia la coda di stampa

1. Spegni la stampante, aspetta **30 secondi** e riaccendila.
2. Sul computer apri *Impostazioni → Stampanti e scanner*, seleziona la stampante e scegli *Apri coda*.
3. Annulla tutti i documenti bloccati e stampa una pagina di prova.

## Reinstalla il driver

Se la stampante ha smesso di stampare dopo un aggiornamento, rimuovila da *Stampanti e scanner*,
riavvia il computer e aggiungila di nuovo: il sistema scaricherà un driver aggiornato.

Ancora niente? Apri un ticket indicando il modello della stampante e il messaggio sul display.
"""),
        "el": ("Ο εκτυπωτής δεν εκτυπώνει", """\
Αν τα έγγραφα μένουν στην ουρά και ο εκτυπωτής δεν βγάζει τίποτα, ακολουθήστε τα βήματα με τη σειρά.

## Γρήγοροι έλεγχοι

1. Βεβαιωθείτε ότι ο εκτυπωτής είναι αναμμένος και η οθόνη δείχνει **Έτοιμος**.
2. Ελέγξτε ότι υπάρχει χαρτί στον δίσκο και ότι το μπροστινό κάλυμμα είναι κλειστό.
3. Κοιτάξτε την ενδεικτική λυχνία: το **πορτοκαλί που αναβοσβήνει** σημαίνει εμπλοκή χαρτιού ή άδειο τόνερ.

## Επανεκκίνηση της ουράς εκτύπωσης

1. Σβήστε τον εκτυπωτή, περιμένετε **30 δευτερόλεπτα** και ανάψτε τον ξανά.
2. Στον υπολογιστή ανοίξτε *Ρυθμίσεις → Εκτυπωτές και σαρωτές*, επιλέξτε τον εκτυπωτή και πατήστε *Άνοιγμα ουράς*.
3. Ακυρώστε όλα τα κολλημένα έγγραφα και τυπώστε μια δοκιμαστική σελίδα.

## Επανεγκατάσταση του προγράμματος οδήγησης

Αν ο εκτυπωτής σταμάτησε να εκτυπώνει μετά από ενημέρωση, αφαιρέστε τον από τους *Εκτυπωτές και σαρωτές*,
κάντε επανεκκίνηση και προσθέστε τον ξανά· το σύστημα θα κατεβάσει νέο πρόγραμμα οδήγησης.

Ακόμα τίποτα; Ανοίξτε ένα αίτημα και γράψτε μας το μοντέλο του εκτυπωτή και το μήνυμα της οθόνης.
"""),
    }),
    ("toner", "printers", Article.Status.PUBLISHED, ["printer", "toner", "cartridge"], ["printer-not-printing"], {
        "en": ("Replacing the toner cartridge", """\
Replace the cartridge when the display says **Toner low** and prints come out faded or streaky.

1. Open the front cover and wait a minute: the inside of the printer can be hot.
2. Pull the old cartridge out by its handle.
3. Shake the new cartridge gently from side to side **five or six times** to spread the toner.
4. Remove the orange protective strip and slide the cartridge in until it clicks.
5. Close the cover and print a test page.

| Printer model | Cartridge | Pages (approx.) |
| --- | --- | --- |
| LaserJet Pro M404 | CF259A | 3,000 |
| LaserJet Pro M428 | CF259X | 10,000 |
| Brother HL-L2350 | TN-2420 | 3,000 |

**Toner leaking?** Do not print any more: powder inside the printer damages the drum.
Open a ticket and we will send you a replacement cartridge free of charge.
"""),
        "ru": ("Замена картриджа с тонером", """\
Картридж пора менять, когда на дисплее появляется **«Мало тонера»**, а отпечатки становятся бледными или полосатыми.

1. Откройте переднюю крышку и подождите минуту: внутри принтер может быть горячим.
2. Вытащите старый картридж за ручку.
3. Аккуратно покачайте новый картридж из стороны в сторону **пять-шесть раз**, чтобы тонер распределился равномерно.
4. Снимите оранжевую защитную ленту и вставьте картридж до щелчка.
5. Закройте крышку и напечатайте пробную страницу.

| Модель принтера | Картридж | Ресурс (примерно), страниц |
| --- | --- | --- |
| LaserJet Pro M404 | CF259A | 3 000 |
| LaserJet Pro M428 | CF259X | 10 000 |
| Brother HL-L2350 | TN-2420 | 3 000 |

**Тонер сыплется?** Больше ничего не печатайте: порошок внутри принтера портит фотобарабан.
Создайте заявку, и мы бесплатно пришлём новый картридж.
"""),
        "it": ("Sostituire la cartuccia del toner", """\
È ora di cambiare la cartuccia quando il display indica **Toner in esaurimento** e le stampe escono sbiadite o a righe.

1. Apri lo sportello anteriore e aspetta un minuto: l'interno della stampante può essere caldo.
2. Estrai la vecchia cartuccia tirandola per la maniglia.
3. Agita delicatamente la nuova cartuccia da un lato all'altro **cinque o sei volte** per distribuire il toner.
4. Togli la linguetta protettiva arancione e inserisci la cartuccia fino allo scatto.
5. Chiudi lo sportello e stampa una pagina di prova.

| Modello di stampante | Cartuccia | Pagine (circa) |
| --- | --- | --- |
| LaserJet Pro M404 | CF259A | 3.000 |
| LaserJet Pro M428 | CF259X | 10.000 |
| Brother HL-L2350 | TN-2420 | 3.000 |

**Il toner perde?** Non stampare altro: la polvere all'interno danneggia il tamburo.
Apri un ticket e ti invieremo gratuitamente una cartuccia sostitutiva.
"""),
        "el": ("Αντικατάσταση της κασέτας τόνερ", """\
Αλλάξτε την κασέτα όταν η οθόνη γράφει **Χαμηλό τόνερ** και οι εκτυπώσεις βγαίνουν αχνές ή με γραμμές.

1. Ανοίξτε το μπροστινό κάλυμμα και περιμένετε ένα λεπτό: το εσωτερικό του εκτυπωτή μπορεί να καίει.
2. Τραβήξτε την παλιά κασέτα από τη λαβή της.
3. Ανακινήστε απαλά τη νέα κασέτα δεξιά κι αριστερά **πέντε έξι φορές**, για να μοιραστεί το τόνερ.
4. Αφαιρέστε την πορτοκαλί προστατευτική ταινία και σπρώξτε την κασέτα μέχρι να ακουστεί «κλικ».
5. Κλείστε το κάλυμμα και τυπώστε μια δοκιμαστική σελίδα.

| Μοντέλο εκτυπωτή | Κασέτα | Σελίδες (περίπου) |
| --- | --- | --- |
| LaserJet Pro M404 | CF259A | 3.000 |
| LaserJet Pro M428 | CF259X | 10.000 |
| Brother HL-L2350 | TN-2420 | 3.000 |

**Χύνεται τόνερ;** Μην τυπώσετε τίποτε άλλο: η σκόνη μέσα στον εκτυπωτή καταστρέφει το τύμπανο.
Ανοίξτε ένα αίτημα και θα σας στείλουμε δωρεάν νέα κασέτα.
"""),
    }),
    ("refund", "payments", Article.Status.PUBLISHED, ["refund", "payment", "billing"], ["invoices", "returns"], {
        "en": ("How to request a refund", """\
You can ask for your money back within **30 days** of the payment.

## Request a refund

1. Sign in to the portal and open **My orders**.
2. Choose the order and click **Request a refund**.
3. Pick the reason (for example *charged twice* or *item never arrived*) and send the request.

## When the money arrives

| Payment method | Refund time |
| --- | --- |
| Credit or debit card | 3–5 business days |
| PayPal | 1–2 business days |
| Bank transfer | up to 10 business days |

The refund always goes back to the card or account you paid with. You receive an email
as soon as we approve it. If you were **charged twice**, the duplicate payment is refunded
automatically within 5 business days; there is no need to open a ticket.
"""),
        "ru": ("Как вернуть деньги за заказ", """\
Вернуть деньги можно в течение **30 дней** после оплаты.

## Оформите возврат средств

1. Войдите в портал и откройте **«Мои заказы»**.
2. Выберите заказ и нажмите **«Запросить возврат средств»**.
3. Укажите причину (например, *списали дважды* или *товар не пришёл*) и отправьте запрос.

## Когда придут деньги

| Способ оплаты | Срок возврата |
| --- | --- |
| Банковская карта | 3–5 рабочих дней |
| PayPal | 1–2 рабочих дня |
| Банковский перевод | до 10 рабочих дней |

Деньги всегда возвращаются на ту карту или счёт, с которых вы платили. Как только мы одобрим
возврат, вы получите письмо. Если деньги **списали дважды**, лишний платёж вернётся автоматически
в течение 5 рабочих дней — заявку создавать не нужно.
"""),
        "it": ("Come richiedere un rimborso", """\
Puoi chiedere il rimborso entro **30 giorni** dal pagamento.

## Richiedi il rimborso

1. Accedi al portale e apri **I miei ordini**.
2. Scegli l'ordine e fai clic su **Richiedi rimborso**.
3. Indica il motivo (ad esempio *addebito doppio* o *articolo mai arrivato*) e invia la richiesta.

## Quando arrivano i soldi

| Metodo di pagamento | Tempi del rimborso |
| --- | --- |
| Carta di credito o di debito | 3–5 giorni lavorativi |
| PayPal | 1–2 giorni lavorativi |
| Bonifico bancario | fino a 10 giorni lavorativi |

Il rimborso viene sempre accreditato sulla carta o sul conto usati per pagare. Riceverai un'email
non appena lo approviamo. In caso di **addebito doppio**, il pagamento in più viene rimborsato
automaticamente entro 5 giorni lavorativi: non serve aprire un ticket.
"""),
        "el": ("Πώς να ζητήσετε επιστροφή χρημάτων", """\
Μπορείτε να ζητήσετε επιστροφή χρημάτων μέσα σε **30 ημέρες** από την πληρωμή.

## Υποβολή αιτήματος επιστροφής

1. Συνδεθείτε στην πύλη και ανοίξτε τις **Παραγγελίες μου**.
2. Επιλέξτε την παραγγελία και πατήστε **Αίτημα επιστροφής χρημάτων**.
3. Διαλέξτε τον λόγο (π.χ. *διπλή χρέωση* ή *το προϊόν δεν έφτασε ποτέ*) και στείλτε το αίτημα.

## Πότε θα πάρετε τα χρήματα

| Τρόπος πληρωμής | Χρόνος επιστροφής |
| --- | --- |
| Πιστωτική ή χρεωστική κάρτα | 3–5 εργάσιμες |
| PayPal | 1–2 εργάσιμες |
| Τραπεζική μεταφορά | έως 10 εργάσιμες |

Τα χρήματα επιστρέφονται πάντα στην κάρτα ή στον λογαριασμό με τον οποίο πληρώσατε. Μόλις
εγκρίνουμε την επιστροφή, θα λάβετε email. Αν **χρεωθήκατε δύο φορές**, η διπλή πληρωμή
επιστρέφεται αυτόματα μέσα σε 5 εργάσιμες· δεν χρειάζεται να ανοίξετε αίτημα.
"""),
    }),
    ("invoices", "invoices", Article.Status.PUBLISHED, ["invoice", "billing", "vat"], ["refund"], {
        "en": ("Downloading invoices and correcting billing details", """\
Every payment comes with an invoice in PDF.

## Download an invoice

1. Open **Billing → Invoices** in the portal.
2. Find the month or the order number.
3. Click **Download PDF**. Older invoices are kept for **10 years**.

## Correct the company name, address or VAT number

Billing details can be changed under **Billing → Company details**. The new details appear
on the next invoice. To have an invoice that was already issued corrected, open a ticket
within **60 days** and tell us the invoice number: we cancel it and issue a corrected one.

Received **two invoices for the same month**? Open a ticket with both numbers; we cancel the
duplicate and, if you paid it, refund the money.
"""),
        "ru": ("Где скачать счёт и как исправить реквизиты", """\
К каждому платежу мы выставляем счёт в формате PDF.

## Скачать счёт

1. Откройте в портале **«Оплата → Счета»**.
2. Найдите нужный месяц или номер заказа.
3. Нажмите **«Скачать PDF»**. Старые счета хранятся **10 лет**.

## Исправить название компании, адрес или ИНН

Реквизиты меняются в разделе **«Оплата → Данные компании»**; новые данные появятся в следующем счёте.
Если нужно исправить уже выставленный счёт, создайте заявку в течение **60 дней** и укажите номер счёта:
мы аннулируем его и выставим исправленный.

Пришли **два счёта за один месяц**? Создайте заявку и укажите оба номера — мы аннулируем лишний счёт
и, если вы его уже оплатили, вернём деньги.
"""),
        "it": ("Scaricare le fatture e correggere i dati di fatturazione", """\
Per ogni pagamento emettiamo una fattura in PDF.

## Scaricare una fattura

1. Nel portale apri **Fatturazione → Fatture**.
2. Cerca il mese o il numero d'ordine.
3. Fai clic su **Scarica PDF**. Le fatture precedenti restano disponibili per **10 anni**.

## Correggere ragione sociale, indirizzo o partita IVA

I dati di fatturazione si modificano in **Fatturazione → Dati aziendali** e compaiono dalla fattura successiva.
Per correggere una fattura già emessa, apri un ticket entro **60 giorni** indicando il numero della fattura:
la annulliamo con una nota di credito ed emettiamo quella corretta.

Hai ricevuto **due fatture per lo stesso mese**? Apri un ticket con entrambi i numeri: annulliamo il
duplicato e, se l'hai già pagato, ti rimborsiamo.
"""),
        "el": ("Λήψη τιμολογίων και διόρθωση στοιχείων τιμολόγησης", """\
Για κάθε πληρωμή εκδίδουμε τιμολόγιο σε PDF.

## Λήψη τιμολογίου

1. Στην πύλη ανοίξτε **Χρεώσεις → Τιμολόγια**.
2. Βρείτε τον μήνα ή τον αριθμό παραγγελίας.
3. Πατήστε **Λήψη PDF**. Τα παλαιότερα τιμολόγια φυλάσσονται για **10 χρόνια**.

## Διόρθωση επωνυμίας, διεύθυνσης ή ΑΦΜ

Τα στοιχεία τιμολόγησης αλλάζουν από **Χρεώσεις → Στοιχεία εταιρείας** και εμφανίζονται στο επόμενο τιμολόγιο.
Για να διορθωθεί τιμολόγιο που έχει ήδη εκδοθεί, ανοίξτε αίτημα μέσα σε **60 ημέρες** με τον αριθμό του:
το ακυρώνουμε με πιστωτικό και εκδίδουμε νέο, σωστό.

Λάβατε **δύο τιμολόγια για τον ίδιο μήνα**; Ανοίξτε αίτημα με τους δύο αριθμούς· ακυρώνουμε το διπλό
και, αν το έχετε ήδη πληρώσει, σας επιστρέφουμε τα χρήματα.
"""),
    }),
    ("password-reset", "passwords", Article.Status.PUBLISHED, ["password", "login", "account"], ["two-factor"], {
        "en": ("Resetting a forgotten password", """\
1. On the sign-in page click **Forgot your password?**
2. Enter the email address of your account and press **Send link**.
3. Open the email and follow the link within **one hour**.
4. Choose a new password: at least **12 characters**, not one you used before.

## The email does not arrive

- Check the spam or junk folder.
- Make sure you typed the address your company registered for you.
- Wait five minutes before asking for a new link: each new link cancels the previous one.

## Your account is locked

After **five wrong passwords** sign-in is paused for 15 minutes. Wait, then reset the password
as above. Nobody from support will ever ask you for your password.
"""),
        "ru": ("Как сбросить забытый пароль", """\
1. На странице входа нажмите **«Забыли пароль?»**.
2. Введите адрес электронной почты вашей учётной записи и нажмите **«Отправить ссылку»**.
3. Откройте письмо и перейдите по ссылке в течение **часа**.
4. Придумайте новый пароль: не короче **12 символов** и не совпадающий с прежними.

## Письмо не приходит

- Проверьте папку «Спам».
- Убедитесь, что ввели тот адрес, на который вас зарегистрировала компания.
- Подождите пять минут, прежде чем запрашивать новую ссылку: каждая новая ссылка отменяет предыдущую.

## Учётная запись заблокирована

После **пяти неверных попыток** вход блокируется на 15 минут. Подождите и сбросьте пароль, как описано выше.
Сотрудники поддержки никогда не спрашивают ваш пароль.
"""),
        "it": ("Reimpostare una password dimenticata", """\
1. Nella pagina di accesso fai clic su **Password dimenticata?**
2. Inserisci l'indirizzo email del tuo account e premi **Invia link**.
3. Apri l'email e segui il link entro **un'ora**.
4. Scegli una nuova password: almeno **12 caratteri** e diversa da quelle usate in passato.

## L'email non arriva

- Controlla la cartella della posta indesiderata.
- Verifica di aver scritto l'indirizzo con cui la tua azienda ti ha registrato.
- Aspetta cinque minuti prima di chiedere un nuovo link: ogni nuovo link annulla il precedente.

## L'account è bloccato

Dopo **cinque password errate** l'accesso viene sospeso per 15 minuti. Aspetta, poi reimposta la password
come sopra. Il supporto non ti chiederà mai la tua password.
"""),
        "el": ("Επαναφορά ξεχασμένου κωδικού πρόσβασης", """\
1. Στη σελίδα σύνδεσης πατήστε **Ξεχάσατε τον κωδικό σας;**
2. Γράψτε τη διεύθυνση email του λογαριασμού σας και πατήστε **Αποστολή συνδέσμου**.
3. Ανοίξτε το email και ακολουθήστε τον σύνδεσμο μέσα σε **μία ώρα**.
4. Διαλέξτε νέο κωδικό: τουλάχιστον **12 χαρακτήρες**, διαφορετικό από όσους είχατε παλιότερα.

## Δεν έρχεται το email

- Ελέγξτε τον φάκελο ανεπιθύμητης αλληλογραφίας.
- Βεβαιωθείτε ότι γράψατε τη διεύθυνση με την οποία σας καταχώρισε η εταιρεία σας.
- Περιμένετε πέντε λεπτά πριν ζητήσετε νέο σύνδεσμο: κάθε νέος σύνδεσμος ακυρώνει τον προηγούμενο.

## Ο λογαριασμός κλειδώθηκε

Μετά από **πέντε λάθος κωδικούς** η σύνδεση σταματά για 15 λεπτά. Περιμένετε και κάντε επαναφορά
όπως παραπάνω. Η υποστήριξη δεν θα σας ζητήσει ποτέ τον κωδικό σας.
"""),
    }),
    ("two-factor", "passwords", Article.Status.PUBLISHED, ["2fa", "security", "login"], ["password-reset"], {
        "en": ("Setting up two-factor authentication", """\
Two-factor authentication (2FA) asks for a six-digit code from your phone after the password.

1. Install an authenticator app: Google Authenticator, Microsoft Authenticator or FreeOTP.
2. In the portal open **Profile → Security** and click **Turn on two-factor authentication**.
3. Scan the QR code with the app.
4. Type the six-digit code the app shows and press **Confirm**.
5. **Save the ten backup codes** somewhere safe: each works once if you lose your phone.

## New phone?

Sign in with a backup code, turn 2FA off and on again under **Profile → Security**, and scan the
new QR code. Without a backup code, open a ticket: we verify your identity before resetting 2FA.
"""),
        "ru": ("Настройка двухфакторной аутентификации", """\
При двухфакторной аутентификации (2FA) после пароля нужно ввести шестизначный код с телефона.

1. Установите приложение-аутентификатор: Google Authenticator, Microsoft Authenticator или FreeOTP.
2. В портале откройте **«Профиль → Безопасность»** и нажмите **«Включить двухфакторную аутентификацию»**.
3. Отсканируйте QR-код приложением.
4. Введите шестизначный код из приложения и нажмите **«Подтвердить»**.
5. **Сохраните десять резервных кодов** в надёжном месте: каждый из них срабатывает один раз, если телефон потерян.

## Сменили телефон?

Войдите с резервным кодом, выключите и снова включите 2FA в разделе **«Профиль → Безопасность»**
и отсканируйте новый QR-код. Если резервных кодов нет, создайте заявку: прежде чем сбросить 2FA,
мы проверим вашу личность.
"""),
        "it": ("Attivare l'autenticazione a due fattori", """\
Con l'autenticazione a due fattori (2FA), dopo la password ti viene chiesto un codice di sei cifre dal telefono.

1. Installa un'app di autenticazione: Google Authenticator, Microsoft Authenticator o FreeOTP.
2. Nel portale apri **Profilo → Sicurezza** e fai clic su **Attiva l'autenticazione a due fattori**.
3. Inquadra il codice QR con l'app.
4. Digita il codice di sei cifre mostrato dall'app e premi **Conferma**.
5. **Conserva i dieci codici di backup** in un posto sicuro: ognuno vale una volta sola se perdi il telefono.

## Hai cambiato telefono?

Accedi con un codice di backup, disattiva e riattiva la 2FA da **Profilo → Sicurezza** e inquadra il nuovo
codice QR. Se non hai codici di backup, apri un ticket: verificheremo la tua identità prima di reimpostare la 2FA.
"""),
        "el": ("Ενεργοποίηση ελέγχου ταυτότητας δύο παραγόντων", """\
Με τον έλεγχο ταυτότητας δύο παραγόντων (2FA), μετά τον κωδικό ζητείται και ένας εξαψήφιος κωδικός από το κινητό σας.

1. Εγκαταστήστε μια εφαρμογή ελέγχου ταυτότητας: Google Authenticator, Microsoft Authenticator ή FreeOTP.
2. Στην πύλη ανοίξτε **Προφίλ → Ασφάλεια** και πατήστε **Ενεργοποίηση ελέγχου ταυτότητας δύο παραγόντων**.
3. Σαρώστε τον κωδικό QR με την εφαρμογή.
4. Πληκτρολογήστε τον εξαψήφιο κωδικό της εφαρμογής και πατήστε **Επιβεβαίωση**.
5. **Φυλάξτε τους δέκα εφεδρικούς κωδικούς** σε ασφαλές μέρος: ο καθένας ισχύει μία φορά, αν χάσετε το κινητό.

## Αλλάξατε κινητό;

Συνδεθείτε με έναν εφεδρικό κωδικό, απενεργοποιήστε και ενεργοποιήστε ξανά το 2FA από **Προφίλ → Ασφάλεια**
και σαρώστε τον νέο κωδικό QR. Χωρίς εφεδρικό κωδικό, ανοίξτε αίτημα: θα επιβεβαιώσουμε την ταυτότητά σας
πριν μηδενίσουμε το 2FA.
"""),
    }),
    ("tracking", "deliveries", Article.Status.PUBLISHED, ["delivery", "shipping", "tracking"], ["returns"], {
        "en": ("Tracking your delivery", """\
As soon as your order leaves our warehouse we send you an email with the **tracking number**.

1. Open **My orders** in the portal and choose the order.
2. Click the tracking number: the courier's page shows where the parcel is.

| Status | What it means |
| --- | --- |
| Preparing | We are packing your order (usually the same day) |
| Shipped | The courier has the parcel |
| Out for delivery | It arrives today |
| Delivered | Left with you, a neighbour or at a pick-up point |

## The parcel is late

Deliveries take **2–4 business days** within the EU. If the tracking has not changed for
**five business days**, or it says *delivered* but you have nothing, open a ticket with the
order number: we start an investigation with the courier and send a replacement or a refund.
"""),
        "ru": ("Как отследить доставку заказа", """\
Как только заказ покидает склад, мы присылаем письмо с **трек-номером**.

1. Откройте в портале **«Мои заказы»** и выберите заказ.
2. Нажмите на трек-номер: на странице курьерской службы видно, где сейчас посылка.

| Статус | Что это значит |
| --- | --- |
| Собирается | Мы упаковываем заказ (обычно в тот же день) |
| Отправлен | Посылка у курьерской службы |
| Передан курьеру | Доставка сегодня |
| Доставлен | Вручён вам, соседу или оставлен в пункте выдачи |

## Посылка задерживается

Доставка по ЕС занимает **2–4 рабочих дня**. Если статус не менялся **пять рабочих дней** или в нём
написано «доставлен», а посылки нет, создайте заявку с номером заказа: мы начнём расследование
со службой доставки и отправим замену или вернём деньги.
"""),
        "it": ("Tracciare la spedizione dell'ordine", """\
Appena l'ordine lascia il magazzino ti inviamo un'email con il **numero di tracciamento**.

1. Nel portale apri **I miei ordini** e scegli l'ordine.
2. Fai clic sul numero di tracciamento: la pagina del corriere mostra dove si trova il pacco.

| Stato | Che cosa significa |
| --- | --- |
| In preparazione | Stiamo imballando l'ordine (di solito in giornata) |
| Spedito | Il pacco è stato affidato al corriere |
| In consegna | Arriva oggi |
| Consegnato | Consegnato a te, a un vicino o in un punto di ritiro |

## Il pacco è in ritardo

Le spedizioni in Italia e nell'UE richiedono **2–4 giorni lavorativi**. Se il tracciamento è fermo da
**cinque giorni lavorativi**, oppure risulta *consegnato* ma non hai ricevuto nulla, apri un ticket con il
numero d'ordine: apriamo una verifica con il corriere e ti inviamo un nuovo pacco o ti rimborsiamo.
"""),
        "el": ("Παρακολούθηση της αποστολής σας", """\
Μόλις η παραγγελία σας φύγει από την αποθήκη, σας στέλνουμε email με τον **αριθμό αποστολής**.

1. Ανοίξτε τις **Παραγγελίες μου** στην πύλη και επιλέξτε την παραγγελία.
2. Πατήστε τον αριθμό αποστολής: η σελίδα της εταιρείας courier δείχνει πού βρίσκεται το δέμα.

| Κατάσταση | Τι σημαίνει |
| --- | --- |
| Σε προετοιμασία | Συσκευάζουμε την παραγγελία (συνήθως αυθημερόν) |
| Απεστάλη | Το δέμα το παρέλαβε η εταιρεία courier |
| Σε διανομή | Φτάνει σήμερα |
| Παραδόθηκε | Σε εσάς, σε γείτονα ή σε σημείο παραλαβής |

## Το δέμα καθυστερεί

Οι αποστολές μέσα στην ΕΕ χρειάζονται **2–4 εργάσιμες**. Αν η κατάσταση δεν έχει αλλάξει για **πέντε
εργάσιμες** ή γράφει *παραδόθηκε* χωρίς να έχετε παραλάβει τίποτα, ανοίξτε αίτημα με τον αριθμό
παραγγελίας: ξεκινάμε έρευνα με την εταιρεία courier και σας στέλνουμε νέο δέμα ή επιστρέφουμε τα χρήματα.
"""),
    }),
    ("returns", "returns", Article.Status.PUBLISHED, ["return", "delivery", "refund"], ["refund", "tracking"], {
        "en": ("Returning an item", """\
You can return any item within **30 days** of delivery, for any reason.

1. Open **My orders**, choose the order and click **Return items**.
2. Select the items and the reason, then print the **prepaid return label**.
3. Pack the items, ideally in the original box, and stick the label on the outside.
4. Drop the parcel at any post office or pick-up point.

We refund the money within **5 business days** of receiving the parcel, to the payment method
you used. Faulty items can be returned for free at any time during the **two-year warranty**.
"""),
        "ru": ("Как оформить возврат товара", """\
Любой товар можно вернуть в течение **30 дней** после доставки, без объяснения причин.

1. Откройте **«Мои заказы»**, выберите заказ и нажмите **«Вернуть товары»**.
2. Отметьте товары и причину возврата, затем распечатайте **оплаченную транспортную этикетку**.
3. Упакуйте товары, лучше в родную коробку, и наклейте этикетку снаружи.
4. Сдайте посылку в любом почтовом отделении или пункте выдачи.

Деньги вернутся в течение **5 рабочих дней** после того, как мы получим посылку, тем же способом,
которым вы платили. Неисправный товар можно вернуть бесплатно в любой момент в течение **двухлетней гарантии**.
"""),
        "it": ("Come restituire un prodotto", """\
Puoi restituire qualsiasi prodotto entro **30 giorni** dalla consegna, per qualunque motivo.

1. Apri **I miei ordini**, scegli l'ordine e fai clic su **Restituisci articoli**.
2. Seleziona gli articoli e il motivo, poi stampa l'**etichetta di reso prepagata**.
3. Imballa gli articoli, possibilmente nella scatola originale, e applica l'etichetta all'esterno.
4. Consegna il pacco in un ufficio postale o in un punto di ritiro.

Ti rimborsiamo entro **5 giorni lavorativi** dal ricevimento del pacco, con lo stesso metodo di pagamento.
I prodotti difettosi si possono rendere gratuitamente in qualsiasi momento durante i **due anni di garanzia**.
"""),
        "el": ("Πώς να επιστρέψετε ένα προϊόν", """\
Μπορείτε να επιστρέψετε οποιοδήποτε προϊόν μέσα σε **30 ημέρες** από την παράδοση, για οποιονδήποτε λόγο.

1. Ανοίξτε τις **Παραγγελίες μου**, επιλέξτε την παραγγελία και πατήστε **Επιστροφή προϊόντων**.
2. Σημειώστε τα προϊόντα και τον λόγο και εκτυπώστε την **προπληρωμένη ετικέτα επιστροφής**.
3. Συσκευάστε τα προϊόντα, ιδανικά στο αρχικό κουτί, και κολλήστε την ετικέτα απέξω.
4. Παραδώστε το δέμα σε οποιοδήποτε κατάστημα ταχυδρομείου ή σημείο παραλαβής.

Επιστρέφουμε τα χρήματα μέσα σε **5 εργάσιμες** από τη στιγμή που θα λάβουμε το δέμα, με τον ίδιο τρόπο
πληρωμής. Τα ελαττωματικά προϊόντα επιστρέφονται δωρεάν οποτεδήποτε μέσα στη **διετή εγγύηση**.
"""),
    }),
    ("vpn", "vpn", Article.Status.PUBLISHED, ["vpn", "wifi", "network"], ["email-phone"], {
        "en": ("Connecting to the office VPN", """\
The VPN lets you reach the company's internal systems from home or while travelling.

1. Install **WireGuard** from your computer's or phone's app store.
2. Download your personal configuration from **Profile → Devices → Add VPN device**.
3. In WireGuard choose **Import tunnel from file** (on a phone: scan the QR code).
4. Switch the tunnel on. You are connected when *Latest handshake* shows a time.

## It does not connect

- Hotel and guest Wi-Fi networks sometimes block VPN traffic: try your phone's mobile hotspot.
- Check that the clock of your device is set automatically.
- Each configuration works on **one device**: create a new one for every laptop or phone.

In the office you do not need the VPN: connect to the **Staff** Wi-Fi network with your usual sign-in.
"""),
        "ru": ("Подключение к корпоративной VPN", """\
VPN даёт доступ к внутренним системам компании из дома или в командировке.

1. Установите **WireGuard** из магазина приложений вашего компьютера или телефона.
2. Скачайте личную конфигурацию в разделе **«Профиль → Устройства → Добавить VPN-устройство»**.
3. В WireGuard выберите **«Импорт туннеля из файла»** (на телефоне — отсканируйте QR-код).
4. Включите туннель. Подключение работает, если в поле *«Последнее рукопожатие»* появилось время.

## Не подключается

- Wi-Fi в гостиницах и гостевые сети иногда блокируют VPN: попробуйте раздать интернет с телефона.
- Проверьте, что время на устройстве устанавливается автоматически.
- Каждая конфигурация работает **на одном устройстве**: для каждого ноутбука или телефона создайте отдельную.

В офисе VPN не нужна: подключайтесь к сети Wi-Fi **Staff** со своими обычными учётными данными.
"""),
        "it": ("Collegarsi alla VPN aziendale", """\
La VPN ti permette di raggiungere i sistemi interni dell'azienda da casa o in trasferta.

1. Installa **WireGuard** dallo store del computer o del telefono.
2. Scarica la tua configurazione personale da **Profilo → Dispositivi → Aggiungi dispositivo VPN**.
3. In WireGuard scegli **Importa tunnel da file** (sul telefono: inquadra il codice QR).
4. Attiva il tunnel. Sei collegato quando *Ultimo handshake* mostra un orario.

## Non si collega

- Le reti Wi-Fi di hotel e ospiti a volte bloccano la VPN: prova con l'hotspot del telefono.
- Controlla che l'ora del dispositivo sia impostata automaticamente.
- Ogni configurazione vale per **un solo dispositivo**: creane una nuova per ogni portatile o telefono.

In ufficio la VPN non serve: collegati alla rete Wi-Fi **Staff** con le tue solite credenziali.
"""),
        "el": ("Σύνδεση στο εταιρικό VPN", """\
Το VPN σάς δίνει πρόσβαση στα εσωτερικά συστήματα της εταιρείας από το σπίτι ή σε ταξίδι.

1. Εγκαταστήστε το **WireGuard** από το κατάστημα εφαρμογών του υπολογιστή ή του κινητού σας.
2. Κατεβάστε την προσωπική σας ρύθμιση από **Προφίλ → Συσκευές → Προσθήκη συσκευής VPN**.
3. Στο WireGuard επιλέξτε **Εισαγωγή σήραγγας από αρχείο** (στο κινητό: σαρώστε τον κωδικό QR).
4. Ενεργοποιήστε τη σήραγγα. Είστε συνδεδεμένοι όταν το *Τελευταία χειραψία* δείχνει ώρα.

## Δεν συνδέεται

- Τα Wi-Fi ξενοδοχείων και επισκεπτών μερικές φορές μπλοκάρουν το VPN: δοκιμάστε το hotspot του κινητού.
- Ελέγξτε ότι η ώρα της συσκευής ρυθμίζεται αυτόματα.
- Κάθε ρύθμιση λειτουργεί σε **μία συσκευή**: φτιάξτε νέα για κάθε φορητό ή κινητό.

Στο γραφείο δεν χρειάζεστε VPN: συνδεθείτε στο Wi-Fi **Staff** με τα συνηθισμένα στοιχεία σας.
"""),
    }),
    ("email-phone", "email", Article.Status.PUBLISHED, ["email", "phone", "setup"], ["vpn", "password-reset"], {
        "en": ("Setting up company email on your phone", """\
Use these settings in the mail app of your iPhone or Android phone.

| Setting | Value |
| --- | --- |
| Account type | IMAP |
| Incoming server | mail.example.com, port 993, SSL/TLS |
| Outgoing server | mail.example.com, port 587, STARTTLS |
| User name | your full email address |

1. Open the mail app and choose **Add account → Other**.
2. Enter your name, email address and password.
3. Choose **IMAP** and fill in the servers from the table.
4. Save. The first synchronisation can take a few minutes.

If your account has two-factor authentication, create an **app password** under
**Profile → Security → App passwords** and use it instead of your usual password.
"""),
        "ru": ("Настройка рабочей почты на телефоне", """\
Укажите эти параметры в почтовом приложении iPhone или Android.

| Параметр | Значение |
| --- | --- |
| Тип учётной записи | IMAP |
| Сервер входящей почты | mail.example.com, порт 993, SSL/TLS |
| Сервер исходящей почты | mail.example.com, порт 587, STARTTLS |
| Имя пользователя | полный адрес электронной почты |

1. Откройте почтовое приложение и выберите **«Добавить учётную запись → Другое»**.
2. Введите имя, адрес электронной почты и пароль.
3. Выберите **IMAP** и заполните серверы из таблицы.
4. Сохраните. Первая синхронизация может занять несколько минут.

Если у вас включена двухфакторная аутентификация, создайте **пароль приложения** в разделе
**«Профиль → Безопасность → Пароли приложений»** и введите его вместо обычного пароля.
"""),
        "it": ("Configurare la posta aziendale sullo smartphone", """\
Usa queste impostazioni nell'app di posta del tuo iPhone o telefono Android.

| Impostazione | Valore |
| --- | --- |
| Tipo di account | IMAP |
| Server in entrata | mail.example.com, porta 993, SSL/TLS |
| Server in uscita | mail.example.com, porta 587, STARTTLS |
| Nome utente | il tuo indirizzo email completo |

1. Apri l'app di posta e scegli **Aggiungi account → Altro**.
2. Inserisci nome, indirizzo email e password.
3. Scegli **IMAP** e compila i server come nella tabella.
4. Salva. La prima sincronizzazione può richiedere qualche minuto.

Se sul tuo account è attiva l'autenticazione a due fattori, crea una **password per le app** in
**Profilo → Sicurezza → Password per le app** e usala al posto della password abituale.
"""),
        "el": ("Ρύθμιση εταιρικού email στο κινητό", """\
Χρησιμοποιήστε αυτές τις ρυθμίσεις στην εφαρμογή αλληλογραφίας του iPhone ή του Android σας.

| Ρύθμιση | Τιμή |
| --- | --- |
| Τύπος λογαριασμού | IMAP |
| Διακομιστής εισερχομένων | mail.example.com, θύρα 993, SSL/TLS |
| Διακομιστής εξερχομένων | mail.example.com, θύρα 587, STARTTLS |
| Όνομα χρήστη | ολόκληρη η διεύθυνση email σας |

1. Ανοίξτε την εφαρμογή αλληλογραφίας και επιλέξτε **Προσθήκη λογαριασμού → Άλλο**.
2. Γράψτε όνομα, διεύθυνση email και κωδικό.
3. Επιλέξτε **IMAP** και συμπληρώστε τους διακομιστές από τον πίνακα.
4. Αποθηκεύστε. Ο πρώτος συγχρονισμός μπορεί να πάρει λίγα λεπτά.

Αν ο λογαριασμός σας έχει έλεγχο ταυτότητας δύο παραγόντων, δημιουργήστε **κωδικό εφαρμογής** από
**Προφίλ → Ασφάλεια → Κωδικοί εφαρμογών** και χρησιμοποιήστε τον αντί για τον συνηθισμένο κωδικό.
"""),
    }),
    # Articles in one language only.
    ("add-colleague", "account", Article.Status.PUBLISHED, ["account", "users"], ["password-reset"], {
        "en": ("Adding a colleague to your company account", """\
Your company's administrator can invite colleagues, so that they see and follow the company's tickets.

1. Open **Company → People** and click **Invite**.
2. Enter the colleague's work email address and choose a role: *Member* or *Administrator*.
3. The colleague receives an email and sets a password.

Colleagues who sign up themselves with an address at your company's domain join automatically.
"""),
    }),
    ("verification-code", "passwords", Article.Status.PUBLISHED, ["login", "email"], ["password-reset"], {
        "ru": ("Не приходит письмо с кодом подтверждения", """\
Код подтверждения приходит на почту в течение пары минут. Если письма нет:

1. Загляните в папку «Спам» и «Промоакции».
2. Проверьте, правильно ли указан адрес — опечатки встречаются чаще, чем кажется.
3. Добавьте адрес **noreply@helpdesk.example** в контакты и запросите код ещё раз.

Код действует **10 минут**. Если письмо так и не пришло, напишите нам в чат.
"""),
    }),
    ("bank-transfer", "payments", Article.Status.PUBLISHED, ["payment", "bank"], ["invoices"], {
        "it": ("Pagare con bonifico bancario", """\
Per pagare con bonifico, scegli **Bonifico bancario** al momento dell'ordine.

1. Riceverai un'email con IBAN e causale.
2. Esegui il bonifico indicando **esattamente la causale** (il numero d'ordine): ci serve per abbinare il pagamento.
3. Spediamo l'ordine appena l'importo risulta accreditato, di solito in **1–2 giorni lavorativi**.

Per i bonifici istantanei l'accredito è immediato. Se dopo cinque giorni l'ordine è ancora in attesa,
apri un ticket allegando la ricevuta del bonifico.
"""),
    }),
    ("invoice-vat-greece", "invoices", Article.Status.PUBLISHED, ["invoice", "vat"], ["invoices"], {
        "el": ("Τιμολόγιο αντί για απόδειξη", """\
Αν χρειάζεστε τιμολόγιο για την επιχείρησή σας, συμπληρώστε τα στοιχεία **πριν** ολοκληρώσετε την παραγγελία.

1. Στο ταμείο επιλέξτε **Έκδοση τιμολογίου**.
2. Συμπληρώστε επωνυμία, **ΑΦΜ**, ΔΟΥ και δραστηριότητα.
3. Το τιμολόγιο έρχεται με email μαζί με την επιβεβαίωση της παραγγελίας.

Απόδειξη που έχει ήδη εκδοθεί δεν μετατρέπεται σε τιμολόγιο μετά την πληρωμή.
"""),
    }),
    # For agents only.
    ("internal-refund", "payments", Article.Status.INTERNAL, ["refund", "billing", "internal"], ["refund"], {
        "en": ("Issuing a refund in the billing console", """\
**Agents only.** How to refund a customer once the refund is approved.

1. Open the billing console and search by **order number** (never by the customer's name).
2. Check the payment status is *Captured*; an *Authorised* payment is voided instead of refunded.
3. Click **Refund**, choose full or partial, and paste the ticket number in the note.
4. Reply to the customer with the public article on refunds, and set the ticket to *Solved*.

| Amount | Who approves |
| --- | --- |
| up to 200 EUR | the agent |
| 200–1,000 EUR | the billing team lead |
| over 1,000 EUR | finance (escalate to L2) |
"""),
        "ru": ("Возврат средств в биллинговой консоли", """\
**Только для сотрудников поддержки.** Как вернуть деньги клиенту после одобрения возврата.

1. Откройте биллинговую консоль и ищите по **номеру заказа** (не по имени клиента).
2. Проверьте, что платёж в статусе *Captured*; платёж в статусе *Authorised* не возвращают, а отменяют.
3. Нажмите **Refund**, выберите полный или частичный возврат и вставьте номер заявки в примечание.
4. Ответьте клиенту ссылкой на публичную статью о возврате денег и переведите заявку в статус «Решена».

| Сумма | Кто одобряет |
| --- | --- |
| до 200 EUR | сам агент |
| 200–1 000 EUR | руководитель группы биллинга |
| свыше 1 000 EUR | финансовый отдел (эскалация на L2) |
"""),
    }),
    ("internal-printer-escalation", "printers", Article.Status.INTERNAL, ["printer", "escalation", "internal"],
     ["printer-not-printing", "toner"], {
        "en": ("When to escalate a printer fault to L2", """\
**Agents only.** Escalate to *Tech L2* when, after the customer followed the public printer article:

- the display shows an error code starting with **50.** or **79.** (fuser or firmware fault);
- the printer makes a grinding noise or jams on every page;
- toner leaks from a new cartridge a second time.

Before escalating, add an internal note with the model, the serial number and the error code.
"""),
    }),
    # Being written.
    ("draft-instalments", "payments", Article.Status.DRAFT, ["payment"], ["refund"], {
        "en": ("Paying in instalments", """\
*Draft — waiting for the final terms from finance.*

Orders over **300 EUR** can be paid in three monthly instalments with no interest.
"""),
    }),
]


def _categories() -> dict[str, Category]:
    by_slug: dict[str, Category] = {}
    for position, (slug, parent, name, names) in enumerate(CATEGORIES):
        category, _created = Category.objects.update_or_create(
            slug=slug, defaults={"parent": by_slug.get(parent or ""), "name": name, "names": names,
                                 "position": position})
        by_slug[slug] = category
    return by_slug


@transaction.atomic
def seed(author: User | None) -> int:
    """Create the demo's categories and articles (those not there yet) and bring
    their texts, tags and links up to date; returns how many articles were new."""
    categories = _categories()
    articles: dict[str, Article] = {}
    created = 0
    for key, category_slug, status, tags, _related, texts in ARTICLES:
        language, (title, body) = next(iter(texts.items()))
        existing = (ArticleTranslation.objects.filter(language=language, title=title, article__author=author)
                    .select_related("article").first())
        if existing is None:
            article = services.create_article(author=author, title=title, body=body, language=language,
                                              status=status, category=categories[category_slug], tags=tags)
            created += 1
        else:
            article = services.update_article(article=existing.article, actor=author, status=status,
                                              category=categories[category_slug], tags=tags)
        for code, (title, body) in texts.items():
            services.save_translation(article=article, language=code, title=title, body=body, author=author)
        articles[key] = article
    for key, *_rest, related, _texts in ARTICLES:
        articles[key].related.add(*(articles[other] for other in related))
    return created
