#!/usr/bin/env python3
"""Generate the synthetic complaint set used to evaluate jiceng-routing.

    python3 crates/routing/data/generate.py            # writes complaints-train.csv / -test.csv

Deterministic (fixed seed). Every label has its own banks of problem phrasings, details and
impacts; each bank is split in two, and the test file draws mostly from the half the training
file almost never sees, so a model must generalise across paraphrases rather than recall
sentences. Shared frames (who reports, where, when, how upset) come from common banks, and a
share of texts carry a second, minor topic or typos. See README.md.
"""

import csv
import random
from pathlib import Path

SEED = 30428
TRAIN_ROWS = 3000
TEST_ROWS = 1000
DEV_ROWS = 600
OUT = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Shared frames
# ---------------------------------------------------------------------------------------------

ROADS = ["建设路", "人民南路", "解放大道", "滨江路", "中山路", "文化街", "光明路", "幸福街", "和平路",
         "迎宾大道", "青年路", "南环路", "东风路", "团结街", "桂花巷", "红旗路", "新华路", "长安街",
         "学府路", "工业园路", "万达广场旁", "犀浦镇百草路", "河西村三组", "城南大道", "金沙路",
         "天府三街", "双林路", "沙湾路", "梨花街", "北站西二路"]
PLACES = ["与{r2}交叉口", "口", "中段", "{n}号附近", "{n}号门口", "菜市场旁", "公交站旁", "地铁站C口",
          "小学门口", "幼儿园对面", "农贸市场东侧", "人行天桥下", "加油站旁边", "社区服务中心旁",
          "桥下", "转角处", "十字路口", "沿线", "北侧人行道", "南侧辅道", "医院门口", "超市外面"]
COMMUNITIES = ["阳光花园", "金色家园", "锦绣华庭", "翠湖小区", "东苑小区", "幸福里", "紫荆城",
               "滨河湾", "绿地新城", "南苑小区", "电力宿舍", "纺织厂老宿舍", "碧桂园", "恒大绿洲",
               "书香名邸", "龙湖春江郦城", "银杏苑", "和谐家园"]
UNITS = ["{n}栋", "{n}栋{m}单元", "{n}号楼", "{n}幢", "{m}期{n}栋", "东门", "南门", "北门附近",
         "地下车库", "{n}号楼楼下", "中心花园", "门口"]
TIMES = ["最近一周", "这几天", "连续三天", "近一个月", "每天晚上", "今天上午", "昨晚", "今天早上{h}点左右",
         "昨天下午", "最近半个月", "周末", "凌晨两三点", "晚上{h}点以后", "这两天", "已经持续两个多月",
         "从上周开始", "天天", "节假日期间", "每天中午", "近期"]

OPENERS_TRAIN = ["市民来电反映：", "市民来电反映，", "诉求人称，", "来电人表示：", "网格员巡查发现，",
                 "群众通过微信公众号反映：", "12345热线转办：", "市民反映：", "居民反映，",
                 "网格员上报：", "来电人反映：", "", "", "", ""]
OPENERS_TEST = ["市民来电称，", "市长信箱来信：", "诉求人来电反映：", "网格员日常巡查时发现：",
                "居民在随手拍上传照片反映，", "匿名来电：", "社区转来群众诉求：", "", ""]

APPEALS_TRAIN = ["希望相关部门尽快处理。", "请求尽快处理。", "请相关部门管一管。", "要求尽快解决。",
                 "希望有关部门核实处理。", "望尽快解决。", "请派人来看看。", "", "", ""]
APPEALS_TEST = ["麻烦政府出面解决一下。", "恳请相关单位督促整改。", "诉求人要求给个说法。", "请尽快安排人处理！",
                "希望能有人管管", "", ""]
EMOTIONS = ["多次反映无果，非常气愤。", "打了好几次电话都没人管！", "太过分了！", "居民意见很大。",
            "已经忍无可忍了。", "来电人情绪激动。", "诉求人态度较好。", "周边群众反映强烈。",
            "之前反映过一次，至今没有处理。", "市民表示很无奈。", "？？？", "！！"]

# Colloquial paraphrases: the same problem in other words. The training file uses them rarely,
# the test file often, so a model cannot rely on the exact wording it was taught.
PARAPHRASES = [
    ("垃圾桶", ["垃圾箱", "果皮箱", "垃圾筒"]), ("摆摊", ["摆地摊", "摆卖", "摆摊子"]), ("噪音", ["噪声", "动静", "响声"]),
    ("很大", ["特别大", "老大了", "大得很"]), ("没人管", ["无人问津", "没人理", "没人过问"]),
    ("没人清理", ["无人清理", "一直没清", "没人收拾"]), ("路边", ["马路边上", "道路旁", "路旁边"]),
    ("晚上", ["夜里", "夜间", "晚间"]), ("小区", ["家属院", "院子", "小区里"]), ("商贩", ["小贩", "摊贩", "生意人"]),
    ("卖", ["售卖", "兜卖", "销售"]), ("人行道", ["人行便道", "步行道", "行人道"]), ("车辆", ["车子", "汽车", "机动车"]),
    ("马路", ["大街", "路面", "街道"]), ("严重", ["厉害", "很严重", "不得了"]), ("坏了", ["坏掉了", "出故障了", "不好使了"]),
    ("不亮", ["不亮了", "黑着", "没亮"]), ("居民", ["住户", "老百姓", "街坊"]), ("睡不着", ["没法睡觉", "无法入睡", "睡不好"]),
    ("堆放", ["堆着", "码放", "摆放"]), ("影响", ["妨碍", "干扰"]), ("有人", ["有群众", "有个人", "某些人"]),
    ("占用", ["霸占", "侵占"]), ("附近", ["周边", "一带"]), ("一直", ["始终", "老是", "长期"]), ("处理", ["解决", "整治", "处置"]),
    ("很脏", ["脏得很", "脏乱", "不干净"]), ("漏水", ["渗水", "冒水"]), ("刮倒", ["吹倒", "刮断"]), ("破损", ["损坏", "烂了"]),
    ("私自", ["擅自", "偷偷"]), ("乱扔", ["乱丢", "随手扔"]), ("排放", ["排出", "外排"]), ("楼下", ["楼底下", "一楼"]),
]
CALLER_BACKGROUND = ["诉求人是附近居民，在这里住了十多年，", "来电人是一名退休教师，", "诉求人说自己是上班族，",
                     "来电人称自己腿脚不便，", "诉求人是外卖骑手，每天路过，", "来电人家里有两个孩子，",
                     "诉求人是个体户，", "来电人刚搬来不久，"]

# Common typos of hotline transcription and of residents typing on phones.
TYPOS = [("垃圾", "拉圾"), ("噪音", "燥音"), ("反映", "反应"), ("已经", "以经"), ("经营", "经管"),
         ("路灯", "路登"), ("停车", "亭车"), ("施工", "施公"), ("物业", "务业"), ("井盖", "井该"),
         ("扰民", "绕民"), ("处理", "处里"), ("暖气", "暖器"), ("油烟", "油咽"), ("广告", "广造"),
         ("占用", "站用"), ("渣土", "碴土"), ("塌陷", "踏陷"), ("小区", "小曲"), ("的", "得")]

# ---------------------------------------------------------------------------------------------
# Labels: problem phrasings (`core`), extra details (`detail`), impacts (`impact`), slot banks.
# `{loc}` is replaced by a street address or a residential address, `{time}` by a time phrase.
# ---------------------------------------------------------------------------------------------

L = {}

L["市容环境-私搭乱建"] = dict(
    where="home",
    core=["{loc}有住户在楼顶私自搭建{build}", "{loc}一楼住户违章搭建{build}，占用公共绿地",
          "{loc}有人私搭乱建{build}", "{loc}业主把阳台往外扩建，搭了{build}",
          "{loc}楼下有人用彩钢瓦搭了个棚子", "{loc}有居民在公共区域违建{build}",
          "{loc}顶楼加盖了一层，疑似违章建筑", "{loc}有人在院子里圈地盖房",
          "{loc}一户人家把{build}搭到了消防通道边上", "{loc}有人正在搭建违法建筑，钢架都立起来了",
          "{loc}路边有人未经审批私自建房", "{loc}商铺后面私自接建了{build}",
          "{loc}住户在露台上砌墙加顶", "{loc}有人围墙外私自扩建", "{loc}邻居把公共楼道封起来当自家储物间",
          "{loc}村民在耕地上违法建设厂房", "{loc}违建{build}一直没拆", "{loc}有人偷偷盖{build}"],
    build=["彩钢棚", "阳光房", "铁皮房", "简易房", "玻璃房", "雨棚", "砖房", "车棚", "二层小楼", "鸽子棚"],
    detail=["晚上偷偷施工", "物业劝阻无效", "挡住了低层住户的采光", "存在安全隐患", "城管来过一次又继续搭",
            "面积有二三十平米", "已经影响到邻居通风", "还在继续往上加", "用来出租赚钱"],
    impact=["影响小区整体环境", "邻里矛盾很大", "担心楼板承重", "遮挡采光"],
)

L["市容环境-暴露垃圾"] = dict(
    where="street",
    core=["{loc}路边堆了一大堆{trash}，没人清理", "{loc}有人随意倾倒{trash}", "{loc}空地上到处是{trash}",
          "{loc}有暴露垃圾，臭气熏天", "{loc}垃圾乱扔乱倒，堆成了小山", "{loc}墙角堆放{trash}很久了",
          "{loc}有人半夜往这里倒{trash}", "{loc}河边堆着{trash}", "{loc}路旁有大量{trash}裸露堆放",
          "{loc}一片荒地被当成了垃圾场", "{loc}拆迁后留下的{trash}一直没运走", "{loc}草丛里全是{trash}",
          "{loc}桥洞下面扔了很多{trash}", "{loc}有人把{trash}装袋扔在马路牙子上",
          "{loc}树下堆了一堆垃圾，苍蝇乱飞", "{loc}地上散落的{trash}没人收拾"],
    trash=["生活垃圾", "建筑垃圾", "装修垃圾", "废旧家具", "烂菜叶", "塑料袋", "碎砖头", "餐厨垃圾",
           "旧沙发床垫", "编织袋垃圾"],
    detail=["不在垃圾桶附近", "已经发臭", "下雨后污水横流", "招来很多老鼠", "环卫工说不归他们管", "风一吹满地飞"],
    impact=["影响市容", "味道很难闻", "夏天蚊蝇滋生", "行人只能绕着走"],
)

L["市容环境-垃圾满溢"] = dict(
    where="any",
    core=["{loc}的垃圾桶满了{days}没人清运", "{loc}垃圾箱已经装满溢出来了", "{loc}垃圾桶爆满，垃圾堆到桶外",
          "{loc}垃圾站{days}没清运了", "{loc}垃圾桶天天满，清运不及时", "{loc}的分类垃圾桶全满了，盖子都盖不上",
          "{loc}垃圾房满溢，袋子堆到路边", "{loc}环卫车{days}没来收垃圾", "{loc}垃圾中转站满了没人拉走",
          "{loc}果皮箱塞满了，垃圾掉了一地", "{loc}桶里的垃圾冒尖了", "{loc}垃圾收集点没人收，满出来了",
          "{loc}清运车好几天不来，垃圾桶周围全是垃圾袋", "{loc}垃圾桶数量太少，每天都满"],
    days=["三天", "两天", "一个星期", "好几天", "四五天", "整整一周", "两三天"],
    detail=["臭味飘到楼上", "流出黑色污水", "野猫野狗翻得到处都是", "居民只能把垃圾放地上", "物业说是环卫的事",
            "以前是每天清一次"],
    impact=["味道刺鼻", "影响居民生活", "蚊子苍蝇特别多", "路过都要捂鼻子"],
)

L["市容环境-道路不洁"] = dict(
    where="street",
    core=["{loc}路面很脏，很久没人打扫", "{loc}人行道上全是泥浆和油污", "{loc}路面有大片油污，很滑",
          "{loc}街道保洁不到位，满地烟头纸屑", "{loc}马路上落叶和尘土很多没人扫", "{loc}路面有污水横流",
          "{loc}地面上有大量狗屎没人清理", "{loc}环卫工人好几天没来扫地", "{loc}地上黏糊糊的全是污渍",
          "{loc}路边排水沟发黑发臭", "{loc}人行道上有呕吐物和污物", "{loc}道路两侧积满灰尘，车一过尘土飞扬",
          "{loc}马路上撒了一地油漆，一直没清洗"],
    detail=["下雨天更严重", "老人走路容易滑倒", "跟环卫所反映过", "早上上学的孩子多"],
    impact=["影响市容市貌", "行人容易滑倒", "影响出行"],
)

L["街面秩序-占道经营"] = dict(
    where="street",
    core=["{loc}有人占道经营卖{goods}", "{loc}摊贩在人行道上摆摊卖{goods}", "{loc}{goods}摊占用盲道经营",
          "{loc}有商贩长期在路边摆摊设点", "{loc}早市摊位摆到了马路上", "{loc}夜市摊位占满了整条人行道",
          "{loc}有人在路口支起摊子卖{goods}，固定在那里好多天了", "{loc}卖{goods}的把摊子摆在公交站台上",
          "{loc}小摊小贩占道经营，把路堵死了", "{loc}有人搭了遮阳伞在路边卖{goods}",
          "{loc}一排菜摊占着非机动车道", "{loc}流动摊点每天固定在这里摆摊", "{loc}马路边摆了好几张桌子卖{goods}",
          "{loc}有人在路口占用道路从事经营活动", "{loc}修车摊占用人行道", "{loc}每天傍晚地摊一直摆到路中间"],
    goods=["水果", "蔬菜", "烤红薯", "早餐", "衣服袜子", "小吃", "鲜花", "手机壳", "凉菜卤菜", "西瓜", "臭豆腐"],
    detail=["城管来了就跑，走了又回来", "占了大半个人行道", "还接了电线", "收摊后满地垃圾", "旁边就是学校",
            "有人说是附近居民"],
    impact=["影响通行", "行人只能走机动车道", "造成交通拥堵", "很不安全"],
)

L["街面秩序-无照游商"] = dict(
    where="street",
    core=["{loc}有流动商贩推着三轮车沿街叫卖{goods}", "{loc}游商骑电动车到处卖{goods}", "{loc}有无照游商流动兜售{goods}",
          "{loc}经常有人推车走街串巷卖{goods}", "{loc}有人开着小货车用喇叭吆喝卖{goods}，停一会就走",
          "{loc}流动摊贩满街跑，城管一来就换地方", "{loc}有人拎着篮子在路上到处兜售{goods}",
          "{loc}有外地人开三轮车流动卖{goods}，没有营业执照", "{loc}有小贩挑着担子沿路卖{goods}",
          "{loc}下班时间总有流动小贩推着车转来转去卖{goods}", "{loc}有人骑着三轮车流窜叫卖",
          "{loc}有无证商贩拉着车到处跑着卖东西", "{loc}游商小贩打游击，今天这里明天那里"],
    goods=["水果", "烤肠", "玉米", "甘蔗", "西瓜", "廉价衣服", "老鼠药", "糖葫芦", "鸡蛋", "狗皮膏药"],
    detail=["喇叭声音很大", "卖的东西来路不明", "没有固定位置", "不知道东西干不干净", "经常在小学放学时出现"],
    impact=["影响交通", "扰乱市场秩序", "存在食品安全隐患"],
)

L["街面秩序-店外经营"] = dict(
    where="street",
    core=["{loc}{shop}把货物摆到店门外经营", "{loc}{shop}出店经营，占用人行道", "{loc}{shop}在门口支起桌子招揽生意",
          "{loc}{shop}长期超出门窗经营", "{loc}{shop}把商品堆在店外人行道上卖", "{loc}{shop}在门前搭棚子扩大经营",
          "{loc}几家{shop}都把摊子摆到门外", "{loc}{shop}在店门口洗车修车，占了人行道",
          "{loc}{shop}把冰柜和货架搬到外面", "{loc}{shop}晚上在门外摆了十几张桌子",
          "{loc}{shop}把展示架放到店外", "{loc}{shop}门前占道经营"],
    shop=["水果店", "五金店", "饭店", "烧烤店", "汽修店", "超市", "服装店", "火锅店", "电动车行", "家具店"],
    detail=["店主说别家也这样", "劝说后第二天又摆出来", "门前全是油污", "执法队员来过一次"],
    impact=["行人无法通过", "影响市容", "推婴儿车的只能走马路"],
)

L["街面秩序-乱堆物料"] = dict(
    where="any",
    core=["{loc}有人在路边乱堆乱放{mat}", "{loc}人行道上堆放{mat}好长时间了", "{loc}{mat}占道堆放无人管理",
          "{loc}有商户把{mat}堆在路边", "{loc}路边堆着{mat}，占了一半道路", "{loc}楼道里堆满了{mat}",
          "{loc}有人在公共区域堆放{mat}，一直不搬走", "{loc}门口堆了很多{mat}没人清理",
          "{loc}施工队把{mat}堆到了人行道上", "{loc}空地上乱堆{mat}"],
    mat=["建材", "砖块沙子", "废品纸箱", "木料", "钢管", "旧轮胎", "杂物", "水泥袋", "废旧电器", "泡沫箱"],
    detail=["已经堆了一个多月", "晚上看不见容易绊倒", "收废品的人堆的", "主人不知道是谁"],
    impact=["影响通行", "存在安全隐患", "影响美观"],
)

L["施工管理-施工扰民"] = dict(
    where="any",
    core=["{loc}工地夜间施工噪音扰民", "{loc}工地{time}还在打桩，吵得睡不着", "{loc}建筑工地半夜施工",
          "{loc}工地晚上十点以后还在施工", "{loc}施工机械噪音太大", "{loc}工地凌晨浇筑混凝土，轰隆隆响一夜",
          "{loc}有工地违规夜间施工", "{loc}在建楼盘晚上加班干活，电锯声不断", "{loc}道路施工夜里一直在破碎路面",
          "{loc}有户人家装修从早到晚电钻声不停", "{loc}楼上装修周末一大早就开始砸墙",
          "{loc}拆迁工地挖掘机晚上也在作业", "{loc}地铁施工点夜间作业声音很大", "{loc}工地塔吊夜里还在运转",
          "{loc}附近工地{time}施工，有夜间施工许可证吗"],
    detail=["家里有高考生", "老人心脏不好", "孩子被吵醒哭个不停", "白天也不停", "找工地理论没人理",
            "说有夜间施工许可但没看到公示"],
    impact=["严重影响休息", "整晚睡不着觉", "影响居民正常生活"],
)

L["施工管理-道路遗撒"] = dict(
    where="street",
    core=["{loc}渣土车沿路遗撒泥土", "{loc}有运输车辆一路撒{spill}", "{loc}渣土车未覆盖，路上全是{spill}",
          "{loc}工地出来的车带泥上路，路面全是泥巴", "{loc}货车漏撒{spill}，路面很滑", "{loc}有车辆抛洒{spill}",
          "{loc}搅拌车漏混凝土，路上结成一块一块的", "{loc}渣土车晚上过后满地都是土",
          "{loc}运沙车边开边掉沙子", "{loc}垃圾清运车一路滴臭水", "{loc}大货车撒下的石子没人清理",
          "{loc}工地门口没有冲洗设施，车轮带泥"],
    spill=["泥土", "沙石", "渣土", "碎石", "煤渣", "泥浆", "建筑垃圾"],
    detail=["都是晚上运", "车辆车牌看不清", "下雨天满路泥浆", "骑车的人摔倒了"],
    impact=["影响行车安全", "尘土飞扬", "路面很滑"],
)

L["施工管理-工地扬尘"] = dict(
    where="any",
    core=["{loc}工地扬尘很大，没有覆盖防尘网", "{loc}工地裸土没有苫盖，风一吹满天灰", "{loc}拆迁现场尘土飞扬",
          "{loc}工地未采取降尘措施，雾炮也不开", "{loc}施工现场扬尘严重", "{loc}工地切割石材粉尘很大",
          "{loc}工地土方开挖灰尘满天", "{loc}搅拌站粉尘污染严重", "{loc}工地没有围挡，沙土堆敞着",
          "{loc}拆房子也不洒水，灰大得睁不开眼"],
    detail=["家里窗户都不敢开", "衣服晾在外面全是灰", "孩子咳嗽", "车子一天就落满灰"],
    impact=["空气污染严重", "影响身体健康", "家里到处是灰"],
)

L["宣传广告-非法小广告"] = dict(
    where="any",
    core=["{loc}电线杆上贴满了{ad}小广告", "{loc}墙上被人喷涂了{ad}的电话号码", "{loc}有人到处张贴{ad}小广告",
          "{loc}楼道里贴满了{ad}的小卡片", "{loc}有人在车上塞{ad}传单", "{loc}地上被喷了{ad}广告",
          "{loc}单元门上贴的{ad}广告撕了又贴", "{loc}牛皮癣小广告泛滥", "{loc}有人散发{ad}小卡片",
          "{loc}配电箱上全是{ad}的喷字", "{loc}树上挂满了{ad}的广告牌子", "{loc}有人乱贴乱画，写的是{ad}"],
    ad=["办证", "开锁", "通下水道", "贷款", "招聘", "搬家", "回收旧家电", "租房", "培训班", "疏通管道"],
    detail=["上面留的电话打得通", "刚清理完又贴上了", "贴得密密麻麻", "半夜有人来贴"],
    impact=["影响市容", "很难看", "破坏环境"],
)

L["宣传广告-户外广告设施"] = dict(
    where="street",
    core=["{loc}{sign}破损，随时可能掉下来", "{loc}有{sign}歪了，摇摇欲坠", "{loc}{sign}字掉了一半",
          "{loc}商户私自设置{sign}，没有审批", "{loc}楼顶的{sign}被风刮坏了", "{loc}{sign}灯箱晚上一直闪",
          "{loc}{sign}锈蚀严重", "{loc}路边立了个大型{sign}挡住了视线", "{loc}{sign}架子松动",
          "{loc}有商家在人行道上摆放落地{sign}"],
    sign=["广告牌", "门头招牌", "灯箱广告", "大型户外广告", "横幅", "LED显示屏", "指示牌", "店招"],
    detail=["下面就是人行道", "大风天更危险", "已经有碎片掉落", "晚上灯光刺眼"],
    impact=["存在安全隐患", "怕砸到行人", "影响市容"],
)

L["突发事件-路面塌陷"] = dict(
    where="street",
    core=["{loc}路面突然塌陷，出现一个大坑", "{loc}马路塌了一个{size}的洞", "{loc}路面下沉开裂，有塌陷危险",
          "{loc}地面塌陷，一辆车陷进去了", "{loc}人行道塌陷了一块", "{loc}下雨后路面塌陷",
          "{loc}道路出现空洞，地下好像被掏空了", "{loc}路基塌陷，边上已经拉了警戒线",
          "{loc}小区门口地面整体下沉", "{loc}路中间塌出一个深坑，能看到下面的管道"],
    size=["一米多宽", "两三米", "脸盆大", "一人多深", "半米深"],
    detail=["没有任何警示标志", "电动车差点掉进去", "附近有地铁在施工", "晚上看不清很危险"],
    impact=["非常危险", "车辆无法通行", "威胁行人安全"],
)

L["突发事件-道路积水"] = dict(
    where="street",
    core=["{loc}下雨后路面积水严重", "{loc}一下雨就积水，水深没过{depth}", "{loc}雨后积水{days}都退不下去",
          "{loc}下穿隧道积水，车辆熄火", "{loc}雨水井堵塞，路面成了河", "{loc}排水不畅，积水倒灌进小区",
          "{loc}暴雨后道路被淹", "{loc}低洼路段积水很深", "{loc}雨水箅子被堵，水排不出去",
          "{loc}积水倒灌进商铺"],
    depth=["脚踝", "小腿", "膝盖", "轮胎"],
    days=["两天", "一整天", "好几天"],
    detail=["每年雨季都这样", "学生上学只能蹚水", "有车被困", "电动车进水坏了"],
    impact=["出行非常不便", "影响通行", "存在安全隐患"],
)

L["市场监管-食品安全"] = dict(
    where="street",
    core=["{loc}{eatery}卫生条件很差，后厨脏乱", "在{loc}{eatery}吃完后上吐下泻", "{loc}{eatery}卖过期食品",
          "{loc}{eatery}的员工没有健康证", "{loc}{eatery}疑似使用地沟油", "{loc}超市卖的{food}已经变质",
          "{loc}{eatery}饭菜里吃出了苍蝇", "{loc}{eatery}用病死猪肉", "{loc}{eatery}没有营业执照和食品经营许可证",
          "{loc}买的{food}生产日期是涂改过的", "{loc}{eatery}操作间老鼠乱窜", "{loc}学校周边小卖部卖三无食品",
          "{loc}{eatery}回收剩菜再卖", "{loc}{eatery}餐具不消毒"],
    eatery=["小饭馆", "快餐店", "面馆", "烧烤店", "火锅店", "早餐店", "外卖店", "卤菜店", "奶茶店"],
    food=["牛奶", "面包", "熟食", "冷冻水饺", "月饼", "酸奶", "肉"],
    detail=["孩子吃了肚子疼", "有购物小票", "拍了照片", "老板态度恶劣不承认", "已经去医院看了"],
    impact=["危害身体健康", "要求查处", "担心食品安全"],
)

L["环境保护-餐饮油烟"] = dict(
    where="home",
    core=["{loc}楼下{eatery}油烟直排，熏得家里都是味", "{loc}{eatery}没有安装油烟净化器", "{loc}{eatery}油烟扰民",
          "{loc}{eatery}排烟管道正对着住户窗户", "{loc}{eatery}炒菜油烟很大，窗户都不敢开", "{loc}{eatery}的烟囱冒黑烟",
          "{loc}底商{eatery}油烟污染严重", "{loc}{eatery}厨房排风扇对着小区", "{loc}{eatery}油烟机坏了一直直排",
          "{loc}{eatery}的油烟把墙都熏黑了", "{loc}{eatery}每天中午晚上浓烟滚滚"],
    eatery=["饭店", "烧烤店", "火锅店", "串串店", "川菜馆", "小吃店", "食堂", "烤鱼店", "炸鸡店"],
    detail=["油烟净化器是摆设", "老人有哮喘", "衣服都不敢晾", "找老板协商没用"],
    impact=["严重影响生活", "呛得咳嗽", "家里全是油烟味"],
)

L["环境保护-噪声扰民"] = dict(
    where="any",
    core=["{loc}{noisy}噪音扰民", "{loc}{noisy}声音太大，吵得睡不着", "{loc}{noisy}每天{time}放音乐",
          "{loc}{noisy}音响开得震天响", "{loc}{noisy}半夜还在喧哗", "{loc}{noisy}用大喇叭循环播放广告",
          "{loc}{noisy}低音炮震得窗户响", "{loc}{noisy}夜里唱歌到凌晨", "{loc}{noisy}的空调外机噪音很大",
          "{loc}楼下{noisy}天天吵到半夜", "{loc}{noisy}跳舞音乐声太大"],
    noisy=["酒吧", "KTV", "广场舞", "烧烤摊的食客", "商铺", "棋牌室", "健身房", "清吧", "夜宵店", "跳广场舞的大妈"],
    detail=["报过警，警察走了又继续", "家里有婴儿", "音量明显超标", "和对方沟通无果", "都十二点了还没停"],
    impact=["严重影响休息", "根本睡不着", "神经衰弱了"],
)

L["环境保护-露天焚烧"] = dict(
    where="any",
    core=["{loc}有人露天焚烧{burn}", "{loc}有人烧{burn}，浓烟滚滚", "{loc}田里在焚烧秸秆", "{loc}空地上有人烧垃圾",
          "{loc}有人在河边焚烧{burn}，味道刺鼻", "{loc}每天晚上都有人烧东西，黑烟很大", "{loc}废品站焚烧{burn}",
          "{loc}有人在绿化带里烧落叶", "{loc}有人焚烧电线取铜，气味难闻", "{loc}工地焚烧废料"],
    burn=["垃圾", "秸秆", "塑料", "废旧轮胎", "落叶", "电线皮", "木材废料", "油漆桶"],
    detail=["烟飘进小区", "闻着像烧塑料", "担心引发火灾", "没人制止"],
    impact=["空气很差", "呛得喘不过气", "污染环境"],
)

L["园林绿化-绿地脏乱"] = dict(
    where="any",
    core=["{loc}绿化带里全是垃圾", "{loc}绿地里扔满了{trash}", "{loc}草坪被踩秃了，到处是烟头纸屑",
          "{loc}绿化带杂草丛生没人管", "{loc}花坛里被人种了菜", "{loc}公共绿地被人圈起来养鸡",
          "{loc}绿化带里有人倒剩饭剩菜", "{loc}小游园里面脏乱差", "{loc}绿地里的花被人挖走了",
          "{loc}绿化带被车辆碾压，草都死了", "{loc}花池里长满了杂草还有狗屎", "{loc}绿篱里塞满了塑料袋"],
    trash=["塑料袋", "饮料瓶", "快递盒", "烟头", "建筑垃圾", "旧衣服"],
    detail=["好久没人修剪", "养护公司不来", "夏天蚊子特别多", "跟社区说过"],
    impact=["影响环境", "很不美观", "绿化成了摆设"],
)

L["园林绿化-树木管护"] = dict(
    where="any",
    core=["{loc}行道树被风刮倒了", "{loc}大树树枝快断了，悬在半空", "{loc}树木长得太高挡住了{block}",
          "{loc}有人私自砍伐树木", "{loc}枯树一直没人处理，怕倒下来", "{loc}树枝伸进了住户窗户",
          "{loc}行道树倾斜严重压着电线", "{loc}树上有马蜂窝", "{loc}树枝太低刮到车顶", "{loc}有棵树歪倒在路中间",
          "{loc}树木多年没修剪，遮住了{block}", "{loc}有人剥树皮，树都快死了"],
    block=["路灯", "红绿灯", "采光", "监控", "交通标志"],
    detail=["大风天很危险", "下面停着车", "树根把人行道拱起来了", "请园林部门来修剪"],
    impact=["存在安全隐患", "影响通行", "担心砸到人"],
)

L["交通管理-非法停车"] = dict(
    where="any",
    core=["{loc}机动车乱停乱放", "{loc}车辆违停在人行道上", "{loc}有{car}长期停在路边不走",
          "{loc}汽车停在盲道上", "{loc}路口有车违章停车，堵住了路", "{loc}有人把车停在{spot}",
          "{loc}{car}占道停放，挡住了出口", "{loc}每天晚上大货车停满了路边", "{loc}有僵尸车停了半年没动",
          "{loc}车辆双排停车，公交车过不去", "{loc}有人用地锁占公共停车位", "{loc}私家车堵住了{spot}"],
    car=["大货车", "私家车", "面包车", "渣土车", "出租车", "旅游大巴", "报废车"],
    spot=["小区门口", "公交站台", "人行横道上", "学校门口", "单元门口", "斑马线上"],
    detail=["打挪车电话也不接", "车上积了厚厚一层灰", "交警来贴了罚单又停", "车主是附近商户"],
    impact=["造成交通拥堵", "行人只能绕行", "影响出行"],
)

L["交通管理-共享单车乱停放"] = dict(
    where="street",
    core=["{loc}共享单车乱停乱放", "{loc}共享单车堆成了山", "{loc}大量{bike}堆放在人行道上", "{loc}{bike}横七竖八倒了一地",
          "{loc}坏掉的{bike}没人回收", "{loc}{bike}把盲道都堵住了", "{loc}运维人员不来整理{bike}",
          "{loc}地铁口{bike}停得满满的，人都挤不过去", "{loc}有{bike}被扔进了河里", "{loc}{bike}堵了消防栓"],
    bike=["共享单车", "共享电单车", "哈啰单车", "美团单车", "青桔单车"],
    detail=["早晚高峰最严重", "企业电话打不通", "有的已经生锈", "都是坏车"],
    impact=["影响通行", "影响市容", "老人差点绊倒"],
)

L["消防安全-消防通道堵塞"] = dict(
    where="home",
    core=["{loc}消防通道被车辆堵死了", "{loc}消防通道被占用，停满了车", "{loc}楼道里堆满杂物堵塞安全出口",
          "{loc}有人把电动车停在消防通道上", "{loc}消防车道被锁住了", "{loc}消防通道上摆了摊位",
          "{loc}安全出口被铁门锁上", "{loc}消防栓被杂物围住", "{loc}消防通道被改成了停车位",
          "{loc}有人在楼道里飞线给电动车充电", "{loc}住户从楼上拉电线下来给电动车充电", "{loc}电动车在楼道里充电，太危险了"],
    detail=["万一着火车进不来", "物业不作为", "上次演练消防车都进不来", "已经拍照"],
    impact=["存在严重消防隐患", "很危险", "担心发生火灾"],
)

L["设施管理-井盖缺失"] = dict(
    where="any",
    core=["{loc}井盖丢了，只剩一个黑洞", "{loc}下水道井盖破损", "{loc}窨井盖缺失没有任何警示", "{loc}井盖松动，车一压就响",
          "{loc}雨水井盖被偷了", "{loc}井盖塌下去了一块", "{loc}污水井盖碎裂", "{loc}井盖不见了，用树枝插着做标记",
          "{loc}检查井盖翘起来了，差点绊倒人", "{loc}井盖和路面不平，高出一截", "{loc}电力井盖移位了"],
    detail=["晚上看不见", "小孩容易掉进去", "已经有人崴了脚", "临时放了个锥桶"],
    impact=["非常危险", "存在安全隐患", "行人车辆都危险"],
)

L["设施管理-路灯不亮"] = dict(
    where="any",
    core=["{loc}路灯不亮", "{loc}一排路灯都坏了，晚上漆黑一片", "{loc}路灯{days}不亮了", "{loc}路灯忽明忽暗",
          "{loc}路灯白天亮晚上不亮", "{loc}景观灯全都不亮", "{loc}小区里的路灯坏了没人修", "{loc}路灯杆倒了",
          "{loc}路灯线被人剪断了", "{loc}灯杆歪了，灯罩掉了", "{loc}晚上一盏灯都没有，黑灯瞎火的"],
    days=["一个月", "半个多月", "好几天", "两个星期"],
    detail=["晚上下班回家很害怕", "已经有人摔倒", "附近有学校", "电动车看不清路"],
    impact=["存在安全隐患", "夜间出行不便", "女孩子晚上不敢走"],
)

L["设施管理-道路破损"] = dict(
    where="street",
    core=["{loc}路面坑坑洼洼", "{loc}路面破损严重，到处是坑", "{loc}人行道地砖松动翘起", "{loc}道路开裂，修了又坏",
          "{loc}马路上有个大坑，车一过就颠", "{loc}盲道砖破损", "{loc}路缘石被撞坏了", "{loc}沥青路面起包",
          "{loc}人行道砖缺了好几块", "{loc}桥面伸缩缝坏了，车过哐哐响", "{loc}护栏被撞坏倒在路边",
          "{loc}减速带断了，螺丝露在外面"],
    detail=["下雨天积水看不出坑", "骑车的摔倒过", "修补过一次又坏了", "大车多压坏的"],
    impact=["影响行车安全", "容易发生事故", "出行不便"],
)

L["房屋管理-物业纠纷"] = dict(
    where="home",
    core=["{loc}物业不作为，{prob}", "{loc}物业乱收费", "{loc}物业公司服务差，{prob}", "{loc}物业费涨价没有经过业主同意",
          "{loc}物业强行停水停电催缴物业费", "{loc}物业擅自把公共区域租出去", "{loc}业委会和物业闹矛盾，{prob}",
          "{loc}物业撤场了没人管", "{loc}物业把停车费涨了一倍", "{loc}公共收益物业不公示",
          "{loc}电梯坏了物业{days}不修", "{loc}物业保安态度恶劣", "{loc}物业不让业主装充电桩"],
    prob=["楼道灯坏了也不修", "门禁坏了很久", "小区卫生没人打扫", "监控全是坏的", "水泵坏了也不管", "绿化没人维护"],
    days=["一个月", "半个月", "好几天"],
    detail=["找物业经理总是推脱", "业主群里很多人有意见", "合同里写得清清楚楚", "老人爬楼很辛苦"],
    impact=["要求物业整改", "希望住建部门介入", "业主很不满意"],
)

L["民生服务-供暖"] = dict(
    where="home",
    core=["{loc}暖气不热", "{loc}家里暖气温度只有{temp}", "{loc}供暖不达标", "{loc}暖气片冰凉", "{loc}整栋楼暖气都不热",
          "{loc}供暖管道漏水", "{loc}已经交了取暖费还是不热", "{loc}暖气时热时不热", "{loc}热力公司说是管道问题一直不修",
          "{loc}地暖不热", "{loc}供热站停了，没有通知", "{loc}暖气阀门坏了关不上"],
    temp=["十五度", "十二三度", "十几度", "不到16度"],
    detail=["家里有老人孩子", "穿着羽绒服在家", "打供热热线打不通", "邻居家也一样"],
    impact=["冻得受不了", "孩子感冒了", "要求退费"],
)

L["民生服务-供水"] = dict(
    where="home",
    core=["{loc}停水了，没有任何通知", "{loc}自来水发黄有异味", "{loc}水压太低，高层用不上水", "{loc}{days}没水了",
          "{loc}自来水管爆裂，水一直往外冒", "{loc}自来水浑浊有沉淀", "{loc}水表坏了跑字", "{loc}二次供水水箱很脏",
          "{loc}供水管道漏水好几天没人修", "{loc}水龙头里流出来的水有漂白粉味", "{loc}早晚高峰没有水",
          "{loc}路边消防栓漏水"],
    days=["两天", "一整天", "从早上到现在"],
    detail=["做饭洗澡都成问题", "打自来水公司电话说在抢修", "已经买了桶装水", "老人孩子在家"],
    impact=["影响生活", "担心水质安全", "要求尽快恢复供水"],
)

L["动物管理-犬只扰民"] = dict(
    where="any",
    core=["{loc}有流浪狗咬人", "{loc}邻居养的狗天天叫", "{loc}遛狗不牵绳", "{loc}有人养大型犬", "{loc}流浪狗成群",
          "{loc}狗在电梯里随地大小便", "{loc}楼上养狗半夜狂叫", "{loc}有人在楼下喂流浪猫狗，招来一群",
          "{loc}狗把小孩吓哭了", "{loc}烈性犬没有拴好"],
    detail=["孩子不敢下楼", "狗主人不听劝", "已经咬伤过人", "晚上叫得睡不着"],
    impact=["存在安全隐患", "影响休息", "希望管理"],
)

L["市容环境-水域不洁"] = dict(
    where="street",
    core=["{loc}河道里漂满了垃圾", "{loc}河水发黑发臭", "{loc}河面上有大量漂浮物", "{loc}有人往河里倒垃圾",
          "{loc}池塘水发绿，死鱼很多", "{loc}排污口往河里排黑水", "{loc}河道里长满水草没人打捞",
          "{loc}沟渠堵塞，水臭得不行", "{loc}湖面漂着塑料瓶和泡沫"],
    detail=["夏天更臭", "以前还能钓鱼", "附近居民很多", "河长牌上的电话没人接"],
    impact=["污染环境", "臭味难闻", "影响周边居民"],
)

LABELS = list(L)

# How often each label occurs (hotline volume is never uniform).
rng_w = random.Random(SEED + 1)
WEIGHTS = {label: rng_w.choice([0.5, 0.7, 1.0, 1.0, 1.3, 1.6, 2.0]) for label in LABELS}

# Secondary topics mentioned in passing, which belong to other labels and confuse a model that
# votes by keywords.
ASIDES = ["，另外旁边的路灯也不亮", "，而且附近垃圾桶也满了", "，门口还有人乱停车", "，顺便说一下那边井盖也松了",
          "，旁边的绿化带也很脏", "，还有人在那里摆摊", "，墙上也贴满了小广告", "，附近工地晚上也吵",
          "，烧烤摊的油烟也大", "，共享单车也堆在那里"]


# Short names of topics, used in clauses that mention an earlier or a different problem; the
# text's label is still its main complaint.
TOPICS = [("路灯", "设施管理-路灯不亮"), ("井盖", "设施管理-井盖缺失"), ("垃圾桶满溢", "市容环境-垃圾满溢"),
          ("乱停车", "交通管理-非法停车"), ("油烟", "环境保护-餐饮油烟"), ("噪音", "环境保护-噪声扰民"),
          ("占道经营", "街面秩序-占道经营"), ("小广告", "宣传广告-非法小广告"), ("工地施工", "施工管理-施工扰民"),
          ("暖气", "民生服务-供暖"), ("物业", "房屋管理-物业纠纷"), ("违建", "市容环境-私搭乱建"),
          ("积水", "突发事件-道路积水"), ("流浪狗", "动物管理-犬只扰民"), ("共享单车", "交通管理-共享单车乱停放")]
BACKGROUNDS = ["上次反映的{x}问题已经解决了，这次是", "除了之前说的{x}，", "{x}的事情先不说，", "不是{x}的问题，是",
               "之前投诉过{x}，现在又", "网格员处理完{x}后发现，"]


def split_bank(rng, bank):
    """Splits a phrase bank in a mostly-train half and a mostly-test half."""
    items = list(bank)
    rng.shuffle(items)
    cut = max(1, round(len(items) * 0.55))
    if cut >= len(items):
        return items, items
    return items[:cut], items[cut:]


class Label:
    def __init__(self, rng, name, spec):
        self.name = name
        self.where = spec["where"]
        self.slots = {k: split_bank(rng, v) for k, v in spec.items()
                      if k not in ("where", "core", "detail", "impact")}
        self.core = split_bank(rng, spec["core"])
        self.detail = split_bank(rng, spec["detail"])
        self.impact = split_bank(rng, spec["impact"])


def pick_half(rng, halves, test):
    """Train draws from its own half 95 % of the time, test from the other half 80 %."""
    own, other = halves
    if test:
        return rng.choice(other if rng.random() < 0.8 else own)
    return rng.choice(own if rng.random() < 0.95 else other)


def number(rng):
    return str(rng.choice([rng.randint(1, 30), rng.randint(1, 300)]))


def street(rng):
    place = rng.choice(PLACES).replace("{r2}", rng.choice(ROADS)).replace("{n}", number(rng))
    return rng.choice(ROADS) + place


def home(rng):
    unit = rng.choice(UNITS).replace("{n}", number(rng)).replace("{m}", str(rng.randint(1, 4)))
    name = rng.choice(COMMUNITIES)
    suffix = "" if name.endswith("小区") else rng.choice(["", "小区"])
    return name + suffix + unit


def location(rng, where):
    if where == "street" or (where == "any" and rng.random() < 0.5):
        return street(rng)
    return home(rng)


def fill(rng, text, label, loc, test):
    text = text.replace("{loc}", loc)
    time = rng.choice(TIMES).replace("{h}", str(rng.randint(1, 12)))
    text = text.replace("{time}", time)
    for key, bank in label.slots.items():
        while "{" + key + "}" in text:
            text = text.replace("{" + key + "}", pick_half(rng, bank, test), 1)
    return text


def paraphrase(rng, text, test):
    share = 0.45 if test else 0.08
    for word, alternatives in PARAPHRASES:
        if word in text and rng.random() < share:
            text = text.replace(word, rng.choice(alternatives), 1)
    return text


def typo(rng, text):
    candidates = [(a, b) for a, b in TYPOS if a in text]
    if not candidates:
        return text
    a, b = rng.choice(candidates)
    return text.replace(a, b, 1)


def fullwidth(text):
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def compose(rng, label, test):
    style = rng.random()
    loc = location(rng, label.where)
    core = fill(rng, pick_half(rng, label.core, test), label, loc, test)
    if style < 0.15:
        # A grid worker's terse note: no frame, often no address.
        text = core if rng.random() < 0.5 else core.replace(loc, "", 1)
        text = text.strip("，。 ") or core
    else:
        parts = []
        openers = OPENERS_TEST if test and rng.random() < 0.6 else OPENERS_TRAIN
        opener = rng.choice(openers)
        if rng.random() < 0.12:
            parts.append(rng.choice(CALLER_BACKGROUND))
        if rng.random() < 0.35:
            parts.append(rng.choice(TIMES).replace("{h}", str(rng.randint(1, 12))) + "，")
        if rng.random() < 0.15:
            other = rng.choice([t for t, l in TOPICS if l != label.name])
            parts.append(rng.choice(BACKGROUNDS).replace("{x}", other))
        parts.append(core)
        for _ in range(rng.choice([0, 1, 1, 2])):
            parts.append("，" + fill(rng, pick_half(rng, label.detail, test), label, loc, test))
        if rng.random() < 0.2:
            parts.append(rng.choice(ASIDES))
        if rng.random() < 0.45:
            parts.append("，" + pick_half(rng, label.impact, test))
        parts.append("。")
        if rng.random() < 0.25:
            parts.append(rng.choice(EMOTIONS))
        appeals = APPEALS_TEST if test and rng.random() < 0.6 else APPEALS_TRAIN
        parts.append(rng.choice(appeals))
        text = opener + "".join(parts)
    text = paraphrase(rng, text, test)
    if rng.random() < 0.15:
        text = typo(rng, text)
    if rng.random() < 0.05:
        text = fullwidth(text)
    if rng.random() < 0.1:
        text = text.rstrip("。")
    return text[:120]


def generate(rng, labels, rows, test, taken):
    names = [l.name for l in labels]
    weights = [WEIGHTS[n] for n in names]
    out = []
    while len(out) < rows:
        label = rng.choices(labels, weights)[0]
        text = compose(rng, label, test)
        if text in taken or len(text) < 8:
            continue
        taken.add(text)
        out.append((text, label.name))
    return out


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


def main():
    rng = random.Random(SEED)
    labels = [Label(rng, name, L[name]) for name in LABELS]
    taken = set()
    train = generate(rng, labels, TRAIN_ROWS, False, taken)
    test = generate(rng, labels, TEST_ROWS, True, taken)
    # A validation file from the same distribution as the test file, for choosing the model's
    # knobs without ever looking at the test file. Drawn after both, so they do not depend on it.
    dev = generate(rng, labels, DEV_ROWS, True, taken)
    assert not {t for t, _ in test} & {t for t, _ in train}
    assert not {t for t, _ in dev} & ({t for t, _ in train} | {t for t, _ in test})
    write(OUT / "complaints-train.csv", train)
    write(OUT / "complaints-test.csv", test)
    write(OUT / "complaints-dev.csv", dev)
    lengths = sorted(len(t) for t, _ in train + test)
    print(f"{len(labels)} labels, {len(train)} train, {len(test)} test, "
          f"length min/median/max {lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]}")


if __name__ == "__main__":
    main()
