// Interface strings in Kazakh, Russian and English, and the language switch.
// t(key, vars) looks a key up in the current language (falling back to English, then
// the key itself) and fills {name} placeholders from vars.

const STORAGE_KEY = "qashyq.lang";
export const LANGUAGES = ["kk", "ru", "en"];
export const LANGUAGE_NAMES = { kk: "Қазақша", ru: "Русский", en: "English" };

const ROLES = {
  kk: {
    judge: "Судья", mediator: "Медиатор", clerk: "Сот отырысының хатшысы",
    prosecutor: "Прокурор", lawyer: "Адвокат", defendant: "Сотталушы",
    plaintiff: "Талапкер", respondent: "Жауапкер", witness: "Куә",
    interpreter: "Аудармашы", observer: "Бақылаушы",
  },
  ru: {
    judge: "Судья", mediator: "Медиатор", clerk: "Секретарь судебного заседания",
    prosecutor: "Прокурор", lawyer: "Адвокат", defendant: "Подсудимый",
    plaintiff: "Истец", respondent: "Ответчик", witness: "Свидетель",
    interpreter: "Переводчик", observer: "Наблюдатель",
  },
  en: {
    judge: "Judge", mediator: "Mediator", clerk: "Court clerk",
    prosecutor: "Prosecutor", lawyer: "Lawyer", defendant: "Defendant",
    plaintiff: "Plaintiff", respondent: "Respondent", witness: "Witness",
    interpreter: "Interpreter", observer: "Observer",
  },
};

const EVENTS = {
  kk: {
    hearing_scheduled: "Отырыс жоспарланды", participant_invited: "Сілтеме берілді",
    link_revoked: "Сілтеме кері қайтарылды", hearing_opened: "Отырыс ашылды",
    joined: "Қосылды", rejoined: "Қайта қосылды", left: "Шықты", chat: "Чат хабарламасы",
    hand_raised: "Қол көтерді", hand_lowered: "Қолын түсірді", media_state: "Камера/микрофон",
    admitted: "Отырысқа кіргізілді", denied: "Кіруден бас тартылды", muted: "Дыбысы өшірілді",
    unmuted: "Дыбысы қосылды", removed: "Отырыстан шығарылды", hearing_ended: "Отырыс аяқталды",
  },
  ru: {
    hearing_scheduled: "Заседание назначено", participant_invited: "Выдана ссылка",
    link_revoked: "Ссылка отозвана", hearing_opened: "Заседание открыто",
    joined: "Подключился", rejoined: "Переподключился", left: "Вышел", chat: "Сообщение в чате",
    hand_raised: "Поднял руку", hand_lowered: "Опустил руку", media_state: "Камера/микрофон",
    admitted: "Допущен в заседание", denied: "Отказано в допуске", muted: "Звук выключен",
    unmuted: "Звук включён", removed: "Удалён из заседания", hearing_ended: "Заседание завершено",
  },
  en: {
    hearing_scheduled: "Hearing scheduled", participant_invited: "Link issued",
    link_revoked: "Link revoked", hearing_opened: "Hearing opened",
    joined: "Joined", rejoined: "Rejoined", left: "Left", chat: "Chat message",
    hand_raised: "Raised hand", hand_lowered: "Lowered hand", media_state: "Camera/microphone",
    admitted: "Admitted", denied: "Denied entry", muted: "Muted",
    unmuted: "Unmuted", removed: "Removed", hearing_ended: "Hearing ended",
  },
};

const kk = {
  "app.name": "Qashyq",
  "lang.label": "Тіл",
  "common.close": "Жабу",
  "common.cancel": "Болдырмау",
  "common.loading": "Жүктелуде…",
  "common.error": "Қате: {message}",
  "common.network": "Серверге қосылу мүмкін болмады. Интернет байланысын тексеріңіз.",
  "kind.court": "Сот отырысы",
  "kind.mediation": "Медиация",
  "hstate.scheduled": "Жоспарланған",
  "hstate.open": "Жүріп жатыр",
  "hstate.ended": "Аяқталды",
  "pstate.offline": "Қосылмаған",
  "pstate.lobby": "Күту залында",
  "pstate.admitted": "Отырыста",
  "pstate.revoked": "Сілтеме кері қайтарылған",
  // Admin page
  "admin.title": "Сот отырыстарын жоспарлау",
  "admin.signin.title": "Кіру",
  "admin.signin.token": "Әкімші токені",
  "admin.signin.submit": "Кіру",
  "admin.signin.bad": "Токен қате. Қайта тексеріңіз.",
  "admin.signout": "Шығу",
  "admin.day": "Күні",
  "admin.prevDay": "Алдыңғы күн",
  "admin.nextDay": "Келесі күн",
  "admin.today": "Бүгін",
  "admin.hearings": "Күннің сот отырыстары",
  "admin.noHearings": "Бұл күні отырыс жоқ.",
  "admin.counts": "Қосылғандар: {connected} · Күтуде: {lobby}",
  "admin.create.title": "Жаңа отырыс",
  "admin.create.caseNumber": "Іс нөмірі",
  "admin.create.title_": "Атауы",
  "admin.create.kind": "Түрі",
  "admin.create.startsAt": "Басталу уақыты",
  "admin.create.duration": "Ұзақтығы (минут)",
  "admin.create.language": "Отырыс тілі",
  "admin.create.codec": "Бейне кодегі",
  "admin.create.submit": "Отырысты құру",
  "admin.create.done": "Отырыс құрылды.",
  "admin.detail.empty": "Толық ақпарат үшін тізімнен отырысты таңдаңыз.",
  "admin.detail.when": "{start} – {end}",
  "admin.detail.participants": "Қатысушылар",
  "admin.detail.noParticipants": "Қатысушылар әлі қосылмаған.",
  "admin.detail.add": "Қатысушы қосу",
  "admin.detail.name": "Аты-жөні",
  "admin.detail.role": "Рөлі",
  "admin.detail.addSubmit": "Сілтеме беру",
  "admin.detail.copy": "Сілтемені көшіру",
  "admin.detail.copied": "Көшірілді",
  "admin.detail.copyFailed": "Көшіру мүмкін болмады — сілтемені белгілеп, қолмен көшіріңіз.",
  "admin.detail.linkOnce": "Сілтеме тек бір рет көрсетіледі. Оны қатысушыға жіберіңіз.",
  "admin.detail.qr": "QR-код",
  "admin.detail.revoke": "Сілтемені кері қайтару",
  "admin.detail.revokeConfirm": "{name} сілтемесін кері қайтарасыз ба?",
  "admin.detail.end": "Отырысты аяқтау",
  "admin.detail.endConfirm": "Отырысты барлығы үшін аяқтайсыз ба?",
  "admin.detail.events": "Оқиғалар журналы",
  "admin.detail.noEvents": "Оқиға жоқ.",
  "admin.detail.codec": "Кодек: {codec}",
  // Join page
  "join.connecting": "Қосылуда…",
  "join.hearing": "Іс № {case}",
  "join.startsAt": "Басталуы: {time}",
  "join.you": "Сіз: {name} ({role})",
  "join.camera": "Камера",
  "join.microphone": "Микрофон",
  "join.micLevel": "Микрофон деңгейі",
  "join.join": "Отырысқа қосылу",
  "join.previewOff": "Камера өшірулі",
  "join.media.denied": "Камераға немесе микрофонға рұқсат берілмеді. Браузер параметрлерінен рұқсат беруге болады.",
  "join.media.missing": "Камера немесе микрофон табылмады.",
  "join.media.noCamera": "Камера қолжетімсіз. Тек дыбыспен қосылуға болады.",
  "join.media.noMic": "Микрофон қолжетімсіз. Сізді ести алмайды.",
  "join.media.retry": "Қайта көру",
  "join.media.audioOnly": "Тек дыбыспен қосылу",
  "join.media.receiveOnly": "Камерасыз және микрофонсыз қосылу",
  "join.media.observer": "Сіз бақылаушысыз: отырысты көресіз және естисіз.",
  "lobby.title": "Күту залы",
  "lobby.text": "Судья сізді отырысқа кіргізгенше күтіңіз. Бұл бетті жаппаңыз.",
  "lobby.textMediation": "Медиатор сізді кіргізгенше күтіңіз. Бұл бетті жаппаңыз.",
  "ctrl.mic": "Микрофон",
  "ctrl.cam": "Камера",
  "ctrl.hand": "Қол",
  "ctrl.people": "Тізім",
  "ctrl.end": "Аяқтау",
  "hearing.you": "Сіз",
  "hearing.mic.on": "Микрофонды өшіру",
  "hearing.mic.off": "Микрофонды қосу",
  "hearing.cam.on": "Камераны өшіру",
  "hearing.cam.off": "Камераны қосу",
  "hearing.hand.up": "Қол көтеру",
  "hearing.hand.down": "Қолды түсіру",
  "hearing.chat": "Чат",
  "hearing.people": "Қатысушылар",
  "hearing.leave": "Шығу",
  "hearing.leaveConfirm": "Отырыстан шығасыз ба?",
  "hearing.end": "Отырысты аяқтау",
  "hearing.endConfirm": "Отырысты барлық қатысушылар үшін аяқтайсыз ба?",
  "hearing.lobby": "Кіруді күтуде ({count})",
  "hearing.admit": "Кіргізу",
  "hearing.deny": "Бас тарту",
  "hearing.mute": "Дыбысын өшіру",
  "hearing.unmute": "Дыбысын қосу",
  "hearing.remove": "Шығару",
  "hearing.removeConfirm": "{name} отырыстан шығарасыз ба?",
  "hearing.chat.placeholder": "Хабарлама…",
  "hearing.chat.send": "Жіберу",
  "hearing.chat.empty": "Хабарлама жоқ.",
  "hearing.mutedBy": "Судья микрофоныңызды өшірді.",
  "hearing.unmutedBy": "Микрофонды қайта қосуға болады.",
  "hearing.handRaised": "{name} қол көтерді",
  "hearing.noVideo": "Бейне жоқ",
  "hearing.alone": "Басқа қатысушылар әлі қосылған жоқ.",
  "hearing.tapToPlay": "Дыбысты қосу үшін түртіңіз",
  "hearing.poor": "Байланыс әлсіз",
  // Errors (close codes)
  "error.title": "Қосылу мүмкін емес",
  "error.4400": "Байланыс қатесі. Бетті жаңартып көріңіз.",
  "error.4401": "Сілтеме жарамсыз немесе оның мерзімі өтіп кеткен. Сот кеңсесінен жаңа сілтеме сұраңыз.",
  "error.link_revoked": "Бұл сілтеме кері қайтарылды. Сот кеңсесінен жаңа сілтеме сұраңыз.",
  "error.removed": "Сізді отырыстан шығарды.",
  "error.denied": "Сізге отырысқа кіруге рұқсат берілмеді.",
  "error.4403": "Кіруге рұқсат жоқ.",
  "error.title.early": "Отырыс әлі басталған жоқ",
  "error.4408": "Басталу уақыты: {time}. Сол уақытта осы сілтемені қайта ашыңыз.",
  "error.4408.opens": "Сілтеме {time} бастап ашылады.",
  "error.4409": "Сіз осы сілтеме арқылы басқа құрылғыдан немесе қойындыдан қосылдыңыз.",
  "error.4410": "Сот отырысы аяқталды. Қатысқаныңызға рахмет.",
  "error.4413": "Хабарлама тым үлкен.",
  "error.4429": "Байланыс тым баяу, сондықтан ажыратылды.",
  "error.network": "Байланыс үзілді. Интернетті тексеріңіз.",
  "error.reconnecting": "Байланыс үзілді. Қайта қосылуда…",
  "error.noToken": "Сілтемеде кіру кілті жоқ. Сілтемені хабарламадан толық ашыңыз.",
  "error.unsupported": "Бұл браузер бейнебайланысты қолдамайды. Chrome, Safari немесе Firefox браузерін пайдаланыңыз.",
  "error.left": "Сіз отырыстан шықтыңыз.",
  "error.reconnect": "Қайта қосылу",
  "error.continueHere": "Осында жалғастыру",
};

const ru = {
  "app.name": "Qashyq",
  "lang.label": "Язык",
  "common.close": "Закрыть",
  "common.cancel": "Отмена",
  "common.loading": "Загрузка…",
  "common.error": "Ошибка: {message}",
  "common.network": "Не удалось связаться с сервером. Проверьте подключение к интернету.",
  "kind.court": "Судебное заседание",
  "kind.mediation": "Медиация",
  "hstate.scheduled": "Запланировано",
  "hstate.open": "Идёт",
  "hstate.ended": "Завершено",
  "pstate.offline": "Не подключён",
  "pstate.lobby": "В зале ожидания",
  "pstate.admitted": "В заседании",
  "pstate.revoked": "Ссылка отозвана",
  "admin.title": "Планирование судебных заседаний",
  "admin.signin.title": "Вход",
  "admin.signin.token": "Токен администратора",
  "admin.signin.submit": "Войти",
  "admin.signin.bad": "Неверный токен. Проверьте его и попробуйте снова.",
  "admin.signout": "Выйти",
  "admin.day": "Дата",
  "admin.prevDay": "Предыдущий день",
  "admin.nextDay": "Следующий день",
  "admin.today": "Сегодня",
  "admin.hearings": "Заседания на день",
  "admin.noHearings": "На этот день заседаний нет.",
  "admin.counts": "Подключены: {connected} · Ожидают: {lobby}",
  "admin.create.title": "Новое заседание",
  "admin.create.caseNumber": "Номер дела",
  "admin.create.title_": "Название",
  "admin.create.kind": "Вид",
  "admin.create.startsAt": "Начало",
  "admin.create.duration": "Продолжительность (мин)",
  "admin.create.language": "Язык заседания",
  "admin.create.codec": "Видеокодек",
  "admin.create.submit": "Создать заседание",
  "admin.create.done": "Заседание создано.",
  "admin.detail.empty": "Выберите заседание в списке, чтобы увидеть подробности.",
  "admin.detail.when": "{start} – {end}",
  "admin.detail.participants": "Участники",
  "admin.detail.noParticipants": "Участников пока нет.",
  "admin.detail.add": "Добавить участника",
  "admin.detail.name": "ФИО",
  "admin.detail.role": "Процессуальная роль",
  "admin.detail.addSubmit": "Выдать ссылку",
  "admin.detail.copy": "Копировать ссылку",
  "admin.detail.copied": "Скопировано",
  "admin.detail.copyFailed": "Не удалось скопировать — выделите ссылку и скопируйте вручную.",
  "admin.detail.linkOnce": "Ссылка показывается один раз. Отправьте её участнику.",
  "admin.detail.qr": "QR-код",
  "admin.detail.revoke": "Отозвать ссылку",
  "admin.detail.revokeConfirm": "Отозвать ссылку участника {name}?",
  "admin.detail.end": "Завершить заседание",
  "admin.detail.endConfirm": "Завершить заседание для всех участников?",
  "admin.detail.events": "Журнал событий",
  "admin.detail.noEvents": "Событий нет.",
  "admin.detail.codec": "Кодек: {codec}",
  "join.connecting": "Подключение…",
  "join.hearing": "Дело № {case}",
  "join.startsAt": "Начало: {time}",
  "join.you": "Вы: {name} ({role})",
  "join.camera": "Камера",
  "join.microphone": "Микрофон",
  "join.micLevel": "Уровень микрофона",
  "join.join": "Войти в заседание",
  "join.previewOff": "Камера выключена",
  "join.media.denied": "Доступ к камере или микрофону запрещён. Его можно разрешить в настройках браузера.",
  "join.media.missing": "Камера или микрофон не найдены.",
  "join.media.noCamera": "Камера недоступна. Можно участвовать только со звуком.",
  "join.media.noMic": "Микрофон недоступен. Вас не будет слышно.",
  "join.media.retry": "Попробовать снова",
  "join.media.audioOnly": "Войти только со звуком",
  "join.media.receiveOnly": "Войти без камеры и микрофона",
  "join.media.observer": "Вы наблюдатель: вы будете видеть и слышать заседание.",
  "lobby.title": "Зал ожидания",
  "lobby.text": "Подождите, пока судья допустит вас в заседание. Не закрывайте эту страницу.",
  "lobby.textMediation": "Подождите, пока медиатор допустит вас. Не закрывайте эту страницу.",
  "ctrl.mic": "Микрофон",
  "ctrl.cam": "Камера",
  "ctrl.hand": "Рука",
  "ctrl.people": "Участники",
  "ctrl.end": "Завершить",
  "hearing.you": "Вы",
  "hearing.mic.on": "Выключить микрофон",
  "hearing.mic.off": "Включить микрофон",
  "hearing.cam.on": "Выключить камеру",
  "hearing.cam.off": "Включить камеру",
  "hearing.hand.up": "Поднять руку",
  "hearing.hand.down": "Опустить руку",
  "hearing.chat": "Чат",
  "hearing.people": "Участники",
  "hearing.leave": "Выйти",
  "hearing.leaveConfirm": "Выйти из заседания?",
  "hearing.end": "Завершить заседание",
  "hearing.endConfirm": "Завершить заседание для всех участников?",
  "hearing.lobby": "Ожидают допуска ({count})",
  "hearing.admit": "Допустить",
  "hearing.deny": "Отказать",
  "hearing.mute": "Выключить звук",
  "hearing.unmute": "Включить звук",
  "hearing.remove": "Удалить",
  "hearing.removeConfirm": "Удалить участника {name} из заседания?",
  "hearing.chat.placeholder": "Сообщение…",
  "hearing.chat.send": "Отправить",
  "hearing.chat.empty": "Сообщений нет.",
  "hearing.mutedBy": "Судья выключил ваш микрофон.",
  "hearing.unmutedBy": "Вы можете снова включить микрофон.",
  "hearing.handRaised": "{name} поднял(а) руку",
  "hearing.noVideo": "Нет видео",
  "hearing.alone": "Другие участники ещё не подключились.",
  "hearing.tapToPlay": "Нажмите, чтобы включить звук",
  "hearing.poor": "Слабое соединение",
  "error.title": "Подключение невозможно",
  "error.4400": "Ошибка связи. Попробуйте обновить страницу.",
  "error.4401": "Ссылка недействительна или срок её действия истёк. Запросите новую ссылку в канцелярии суда.",
  "error.link_revoked": "Эта ссылка отозвана. Запросите новую ссылку в канцелярии суда.",
  "error.removed": "Вы удалены из заседания.",
  "error.denied": "Вам отказано в допуске к заседанию.",
  "error.4403": "Доступ запрещён.",
  "error.title.early": "Заседание ещё не началось",
  "error.4408": "Начало: {time}. Откройте эту ссылку снова в это время.",
  "error.4408.opens": "Вход по ссылке откроется: {time}.",
  "error.4409": "Вы подключились по этой ссылке с другого устройства или вкладки.",
  "error.4410": "Судебное заседание завершено. Спасибо за участие.",
  "error.4413": "Слишком большое сообщение.",
  "error.4429": "Соединение слишком медленное, подключение разорвано.",
  "error.network": "Связь потеряна. Проверьте подключение к интернету.",
  "error.reconnecting": "Связь потеряна. Переподключение…",
  "error.noToken": "В ссылке нет ключа доступа. Откройте ссылку из сообщения полностью.",
  "error.unsupported": "Этот браузер не поддерживает видеосвязь. Используйте Chrome, Safari или Firefox.",
  "error.left": "Вы вышли из заседания.",
  "error.reconnect": "Подключиться снова",
  "error.continueHere": "Продолжить здесь",
};

const en = {
  "app.name": "Qashyq",
  "lang.label": "Language",
  "common.close": "Close",
  "common.cancel": "Cancel",
  "common.loading": "Loading…",
  "common.error": "Error: {message}",
  "common.network": "Could not reach the server. Check your internet connection.",
  "kind.court": "Court hearing",
  "kind.mediation": "Mediation",
  "hstate.scheduled": "Scheduled",
  "hstate.open": "In progress",
  "hstate.ended": "Ended",
  "pstate.offline": "Not connected",
  "pstate.lobby": "In the lobby",
  "pstate.admitted": "In the hearing",
  "pstate.revoked": "Link revoked",
  "admin.title": "Hearing scheduling",
  "admin.signin.title": "Sign in",
  "admin.signin.token": "Admin token",
  "admin.signin.submit": "Sign in",
  "admin.signin.bad": "Wrong token. Check it and try again.",
  "admin.signout": "Sign out",
  "admin.day": "Date",
  "admin.prevDay": "Previous day",
  "admin.nextDay": "Next day",
  "admin.today": "Today",
  "admin.hearings": "Hearings of the day",
  "admin.noHearings": "No hearings on this day.",
  "admin.counts": "Connected: {connected} · Waiting: {lobby}",
  "admin.create.title": "New hearing",
  "admin.create.caseNumber": "Case number",
  "admin.create.title_": "Title",
  "admin.create.kind": "Kind",
  "admin.create.startsAt": "Starts at",
  "admin.create.duration": "Duration (minutes)",
  "admin.create.language": "Hearing language",
  "admin.create.codec": "Video codec",
  "admin.create.submit": "Create hearing",
  "admin.create.done": "Hearing created.",
  "admin.detail.empty": "Choose a hearing in the list to see its details.",
  "admin.detail.when": "{start} – {end}",
  "admin.detail.participants": "Participants",
  "admin.detail.noParticipants": "No participants yet.",
  "admin.detail.add": "Add a participant",
  "admin.detail.name": "Full name",
  "admin.detail.role": "Role",
  "admin.detail.addSubmit": "Issue link",
  "admin.detail.copy": "Copy link",
  "admin.detail.copied": "Copied",
  "admin.detail.copyFailed": "Could not copy — select the link and copy it by hand.",
  "admin.detail.linkOnce": "The link is shown only once. Send it to the participant.",
  "admin.detail.qr": "QR code",
  "admin.detail.revoke": "Revoke link",
  "admin.detail.revokeConfirm": "Revoke the link of {name}?",
  "admin.detail.end": "End hearing",
  "admin.detail.endConfirm": "End the hearing for everyone?",
  "admin.detail.events": "Audit timeline",
  "admin.detail.noEvents": "No events.",
  "admin.detail.codec": "Codec: {codec}",
  "join.connecting": "Connecting…",
  "join.hearing": "Case No. {case}",
  "join.startsAt": "Starts: {time}",
  "join.you": "You: {name} ({role})",
  "join.camera": "Camera",
  "join.microphone": "Microphone",
  "join.micLevel": "Microphone level",
  "join.join": "Join the hearing",
  "join.previewOff": "Camera off",
  "join.media.denied": "Access to the camera or microphone was refused. You can allow it in the browser settings.",
  "join.media.missing": "No camera or microphone was found.",
  "join.media.noCamera": "The camera is not available. You can take part with sound only.",
  "join.media.noMic": "The microphone is not available. Others will not hear you.",
  "join.media.retry": "Try again",
  "join.media.audioOnly": "Join with sound only",
  "join.media.receiveOnly": "Join without camera and microphone",
  "join.media.observer": "You are an observer: you will see and hear the hearing.",
  "lobby.title": "Lobby",
  "lobby.text": "Please wait until the judge admits you to the hearing. Keep this page open.",
  "lobby.textMediation": "Please wait until the mediator admits you. Keep this page open.",
  "ctrl.mic": "Mic",
  "ctrl.cam": "Camera",
  "ctrl.hand": "Hand",
  "ctrl.people": "People",
  "ctrl.end": "End",
  "hearing.you": "You",
  "hearing.mic.on": "Turn microphone off",
  "hearing.mic.off": "Turn microphone on",
  "hearing.cam.on": "Turn camera off",
  "hearing.cam.off": "Turn camera on",
  "hearing.hand.up": "Raise hand",
  "hearing.hand.down": "Lower hand",
  "hearing.chat": "Chat",
  "hearing.people": "Participants",
  "hearing.leave": "Leave",
  "hearing.leaveConfirm": "Leave the hearing?",
  "hearing.end": "End hearing",
  "hearing.endConfirm": "End the hearing for all participants?",
  "hearing.lobby": "Waiting to be admitted ({count})",
  "hearing.admit": "Admit",
  "hearing.deny": "Deny",
  "hearing.mute": "Mute",
  "hearing.unmute": "Unmute",
  "hearing.remove": "Remove",
  "hearing.removeConfirm": "Remove {name} from the hearing?",
  "hearing.chat.placeholder": "Message…",
  "hearing.chat.send": "Send",
  "hearing.chat.empty": "No messages.",
  "hearing.mutedBy": "The judge muted your microphone.",
  "hearing.unmutedBy": "You may turn your microphone on again.",
  "hearing.handRaised": "{name} raised a hand",
  "hearing.noVideo": "No video",
  "hearing.alone": "Nobody else has joined yet.",
  "hearing.tapToPlay": "Tap to turn the sound on",
  "hearing.poor": "Weak connection",
  "error.title": "Cannot join",
  "error.4400": "Connection error. Try reloading the page.",
  "error.4401": "The link is invalid or has expired. Ask the court office for a new link.",
  "error.link_revoked": "This link has been revoked. Ask the court office for a new link.",
  "error.removed": "You were removed from the hearing.",
  "error.denied": "You were not admitted to the hearing.",
  "error.4403": "Access denied.",
  "error.title.early": "The hearing has not started yet",
  "error.4408": "It starts on {time}. Open this link again then.",
  "error.4408.opens": "The link opens on {time}.",
  "error.4409": "You joined with this link from another device or tab.",
  "error.4410": "The hearing has ended. Thank you for taking part.",
  "error.4413": "A message was too large.",
  "error.4429": "The connection was too slow and was closed.",
  "error.network": "The connection was lost. Check your internet connection.",
  "error.reconnecting": "The connection was lost. Reconnecting…",
  "error.noToken": "The link has no access key. Open the full link from the message.",
  "error.unsupported": "This browser does not support video calls. Use Chrome, Safari or Firefox.",
  "error.left": "You left the hearing.",
  "error.reconnect": "Reconnect",
  "error.continueHere": "Continue here",
};

const DICTIONARIES = { kk, ru, en };
for (const lang of LANGUAGES) {
  for (const [role, name] of Object.entries(ROLES[lang])) {
    DICTIONARIES[lang][`role.${role}`] = name;
  }
  for (const [kind, name] of Object.entries(EVENTS[lang])) {
    DICTIONARIES[lang][`event.${kind}`] = name;
  }
}
export const ROLE_NAMES = Object.keys(ROLES.en);

/** Add a feature's strings ({kk: {...}, ru: {...}, en: {...}}), e.g. station_strings.js. */
export function addStrings(byLanguage) {
  for (const lang of LANGUAGES) Object.assign(DICTIONARIES[lang], byLanguage[lang] || {});
}

let current = initialLanguage();
const listeners = new Set();

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // Storage can be disabled; fall through to the browser's language.
  }
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGUAGES.includes(nav) ? nav : "ru";
}

/** Whether the user picked a language at some point (remembered in localStorage). */
export function hasSavedLanguage() {
  try {
    return LANGUAGES.includes(localStorage.getItem(STORAGE_KEY));
  } catch {
    return false;
  }
}

export function getLanguage() {
  return current;
}

/** Switch the language; `remember` keeps the choice in localStorage. */
export function setLanguage(lang, remember = true) {
  if (!LANGUAGES.includes(lang)) return;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // Not fatal: the choice just is not remembered.
    }
  }
  if (lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const cb of listeners) cb(lang);
}

export function onLanguageChange(cb) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export function t(key, vars = {}) {
  const text = DICTIONARIES[current][key] ?? DICTIONARIES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export function roleName(role) {
  const key = `role.${role}`;
  return t(key) === key ? String(role) : t(key);
}

export function eventName(kind) {
  const key = `event.${kind}`;
  return t(key) === key ? String(kind) : t(key);
}

/** Fill elements marked with data-i18n (text), data-i18n-placeholder, -aria, -title. */
export function applyI18n(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Turn a <select> into the language switcher. */
export function bindLanguageSelect(select, onUserChange) {
  select.replaceChildren(
    ...LANGUAGES.map((lang) => new Option(LANGUAGE_NAMES[lang], lang, false, lang === current)),
  );
  select.value = current;
  select.addEventListener("change", () => {
    setLanguage(select.value, true);
    if (onUserChange) onUserChange(select.value);
  });
  onLanguageChange((lang) => {
    select.value = lang;
  });
}

const KK_MONTHS = ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз",
  "қыркүйек", "қазан", "қараша", "желтоқсан"];

/**
 * Date and time in the user's time zone, in the current language. Kazakh is formatted by
 * hand: some browsers ship no Kazakh date data and would print "2026 M11 24".
 */
export function formatDateTime(iso, { date = true, seconds = false } = {}) {
  const when = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso ?? "");
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(when.getHours())}:${pad(when.getMinutes())}` +
    (seconds ? `:${pad(when.getSeconds())}` : "");
  if (!date) return time;
  if (current === "kk") {
    return `${when.getFullYear()} ж. ${when.getDate()} ${KK_MONTHS[when.getMonth()]}, ${time}`;
  }
  const locale = current === "ru" ? "ru-RU" : "en-GB";
  try {
    const day = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" })
      .format(when);
    return `${day}, ${time}`;
  } catch {
    return `${when.toLocaleDateString()}, ${time}`;
  }
}

export function formatTime(iso, seconds = false) {
  return formatDateTime(iso, { date: false, seconds });
}
